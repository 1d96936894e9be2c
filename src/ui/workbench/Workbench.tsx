// The reproduction workbench under the lab: the published tables with "Run this" and your results
// beside them, a look inside the trained model, and export/import of runs.
import { ExportImportPanel } from './ExportImportPanel.tsx';
import { InspectPanel } from './InspectPanel.tsx';
import { ReferenceTables } from './ReferenceTables.tsx';
import './workbench.css';

export function Workbench() {
  return (
    <section className="workbench" aria-label="Reproduction workbench">
      <ReferenceTables />
      <div className="workbench-row">
        <InspectPanel />
        <ExportImportPanel />
      </div>
    </section>
  );
}
