// The lab's page: the experiment on the left, the run and its charts in the middle, backend, data and
// weights on the right; below them the reproduction workbench (published tables, inside the model, export/import).
import { BackendPanel } from './BackendPanel.tsx';
import { DataPanel } from './DataPanel.tsx';
import { ErrorChart } from './ErrorChart.tsx';
import { ExperimentPanel } from './ExperimentPanel.tsx';
import { LossChart } from './LossChart.tsx';
import { RunStatus } from './RunStatus.tsx';
import { UrlNotice } from './UrlNotice.tsx';
import { IsolationNotice } from './IsolationNotice.tsx';
import type { Isolation } from './isolation.ts';
import { WeightsPanel } from './WeightsPanel.tsx';
import { Workbench } from './workbench/Workbench.tsx';
import { RunNotices } from './runs/RunNotices.tsx';
import { RunsPanel } from './runs/RunsPanel.tsx';
import { QueuePanel } from './queue/QueuePanel.tsx';
import { ComparePanel } from './compare/ComparePanel.tsx';

export function App({ isolation }: { isolation: Isolation }) {
  return (
    <div className="app">
      <header className="top">
        <h1>ResNet Lab</h1>
        <p>The CIFAR-10 ResNets of He et al. (2015), trained in your browser, next to the paper's, Torch's (gcr) and neon's numbers.</p>
      </header>
      <UrlNotice />
      <IsolationNotice isolation={isolation} />
      <RunNotices />
      <main className="layout">
        <ExperimentPanel />
        <div className="results">
          <RunStatus />
          <LossChart />
          <ErrorChart />
        </div>
        <aside className="side">
          <BackendPanel />
          <DataPanel />
          <WeightsPanel />
        </aside>
      </main>
      <QueuePanel />
      <RunsPanel />
      <ComparePanel />
      <Workbench />
    </div>
  );
}
