import { useRef, useState, type DragEvent } from 'react';
import { useStudio } from '../store';
import { readPngInfo, type PngInfo } from '../store/png-info';
import './history.css';

/** Drop (or pick) a PNG with infotext: its prompt, seed, steps, sampler, size and guidance fill the inputs. */
export function PngInfoDrop() {
  const setInputs = useStudio((s) => s.setInputs);
  const notify = useStudio((s) => s.notify);
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [last, setLast] = useState<(PngInfo & { name: string }) | undefined>();

  const take = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    try {
      const info = readPngInfo(new Uint8Array(await file.arrayBuffer()), file.name);
      setInputs(info.patch);
      setLast({ ...info, name: file.name });
    } catch (e) {
      setLast(undefined);
      notify(`PNG info: ${(e as Error).message}`);
    }
  };
  const drop = (e: DragEvent): void => {
    e.preventDefault();
    setOver(false);
    void take(e.dataTransfer.files[0]);
  };
  const other = last ? Object.entries(last.other) : [];
  return (
    <div className={`png-info${over ? ' over' : ''}`} onDragOver={(e) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)} onDrop={drop} data-testid="png-info">
      <button type="button" className="ghost" onClick={() => input.current?.click()}>Load parameters from a PNG…</button>
      <span className="hint"> or drop one here (A1111 or studio infotext)</span>
      <input ref={input} type="file" accept="image/png" hidden onChange={(e) => { void take(e.target.files?.[0]); e.target.value = ''; }} data-testid="png-info-file" />
      {last && (
        <div className="png-info-result" data-testid="png-info-result">
          <p>From {last.name}: loaded {last.loaded.join(', ')}.</p>
          {other.length > 0 && (
            <details open>
              <summary>{other.length} field{other.length > 1 ? 's' : ''} not loaded</summary>
              <dl data-testid="png-info-other">{other.map(([k, v]) => <div key={k}><dt>{k}</dt><dd>{v}</dd></div>)}</dl>
            </details>
          )}
        </div>
      )}
    </div>
  );
}
