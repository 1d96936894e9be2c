// The epoch axis of the run's charts: what it shows (the data so far by default, the planned run, or a
// zoom), the labelled controls that switch between them, and drag-to-zoom across a plot. Each chart
// keeps its own axis state; the windows and their ticks are pure functions in chart-data.ts.
// Not the charts themselves (LossChart.tsx, ErrorChart.tsx), nor the Compare view's axes.
import { useMemo, useRef, useState, type PointerEvent, type ReactNode } from 'react';
import { dragWindow, fullEnd, tickFormat, xBounds, xWindow, zoomBy, type XExtent, type XView, type XWindow } from './chart-data.ts';
import { Segmented } from './segmented.tsx';
import './chart-x.css';

const FIT: XView = { kind: 'fit' };
const X_OPTIONS = [
  ['fit', 'Fit data'],
  ['planned', 'Planned range'],
] as const;

export interface XAxisState {
  view: XView;
  window: XWindow;
  format: (v: number) => string;
  /** The whole axis: [0, end]. */
  end: number;
  minSpan: number;
  show(kind: 'fit' | 'planned'): void;
  zoomTo(w: { from: number; to: number } | undefined): void;
  zoom(factor: number): void;
}

/**
 * The axis of one chart. `runId`: a zoom belongs to the run it was made on (a new run starts fitted);
 * `minSpan`: the narrowest zoom, in epochs.
 */
export function useXAxis(runId: number | undefined, extent: XExtent, minSpan: number): XAxisState {
  const [state, setState] = useState<{ view: XView; runId?: number }>({ view: FIT });
  const view = state.view.kind === 'zoom' && state.runId !== runId ? FIT : state.view;
  const { from, to } = xBounds(view, extent);
  const window = useMemo(() => xWindow(from, to), [from, to]);
  const format = useMemo(() => tickFormat(window.step), [window.step]);
  const end = fullEnd(extent);
  return {
    view,
    window,
    format,
    end,
    minSpan,
    show: (kind) => setState({ view: kind === 'fit' ? FIT : { kind } }),
    zoomTo: (w) => {
      if (w) setState({ view: { kind: 'zoom', ...w }, runId });
    },
    zoom: (factor) => setState({ view: { kind: 'zoom', ...zoomBy(window, factor, end, minSpan) }, runId }),
  };
}

/** "Fit data" / "Planned range" and zoom buttons, for a chart's head. */
export function XRangeControls({ axis, label }: { axis: XAxisState; label: string }) {
  return (
    <div className="x-range">
      <Segmented<XView['kind']>
        label={label}
        options={X_OPTIONS}
        value={axis.view.kind}
        onChange={(k) => axis.show(k === 'planned' ? 'planned' : 'fit')}
      />
      <div className="x-zoom" role="group" aria-label={`${label}: zoom`}>
        <button
          type="button"
          aria-label="Zoom in"
          title="Zoom in on the middle (or drag across the chart; a double click fits the data again)"
          onClick={() => axis.zoom(0.5)}
        >
          +
        </button>
        <button type="button" aria-label="Zoom out" title="Zoom out" onClick={() => axis.zoom(2)}>
          −
        </button>
      </div>
    </div>
  );
}

/**
 * The chart's box, where a drag across the plot zooms to the dragged epochs and a double click fits
 * the data again. `inset`: pixels between the box's edges and the plot area (margins and the y-axis).
 */
export function ZoomBox({ axis, inset, children }: { axis: XAxisState; inset: { left: number; right: number }; children: ReactNode }) {
  const box = useRef<HTMLDivElement>(null);
  const start = useRef<number | undefined>(undefined);
  const [selection, setSelection] = useState<[number, number] | undefined>();
  const at = (e: PointerEvent) => e.clientX - (box.current?.getBoundingClientRect().left ?? 0);
  const finish = (e: PointerEvent | undefined) => {
    const x0 = start.current;
    start.current = undefined;
    setSelection(undefined);
    if (x0 === undefined || !e || !box.current) return;
    const width = box.current.clientWidth - inset.left - inset.right;
    axis.zoomTo(dragWindow(x0, at(e), { left: inset.left, width }, axis.window, { end: axis.end, minSpan: axis.minSpan }));
  };
  return (
    <div
      ref={box}
      className="chart-box zoom-box"
      onPointerDown={(e) => {
        if (e.button !== 0) return;
        start.current = at(e);
        e.currentTarget.setPointerCapture(e.pointerId);
        setSelection([start.current, start.current]);
      }}
      onPointerMove={(e) => {
        if (start.current !== undefined) setSelection([start.current, at(e)]);
      }}
      onPointerUp={finish}
      onPointerCancel={() => finish(undefined)}
      onDoubleClick={() => axis.show('fit')}
    >
      {children}
      {selection && Math.abs(selection[1] - selection[0]) > 0 && (
        <div className="zoom-selection" style={{ left: Math.min(...selection), width: Math.abs(selection[1] - selection[0]) }} />
      )}
    </div>
  );
}
