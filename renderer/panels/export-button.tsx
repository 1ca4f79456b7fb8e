import { useState } from 'react';
import { useStudio } from '../store';
import { download } from './download';

/** Asks the host for the self-contained report (it also keeps a copy beside the entry) and downloads it. */
export function ExportButton({ id }: { id: string }) {
  const exportEntry = useStudio((s) => s.exportEntry);
  const [saved, setSaved] = useState<string>();
  return (
    <span className="export">
      <button onClick={() => void exportEntry(id).then((r) => {
        if (!r) return;
        setSaved(r.path);
        download(new Blob([r.html], { type: 'text/html' }), `ab-report-${id}.html`);
      })} data-testid="export">Export report</button>
      {saved && <span className="hint" title={saved}>saved</span>}
    </span>
  );
}
