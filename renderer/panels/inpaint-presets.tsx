/// <reference types="vite/client" />
import { useRef, useState } from 'react';
import { TRYON } from '../../app/presets';
import demoImage from '../../assets/demo/emoji-inpaint-image.png?inline';
import demoMask from '../../assets/demo/emoji-inpaint-mask.png?inline';
import { useStudio } from '../store';
import { pngBytes } from './init-image';

/** Inlined by vite as data URLs: the demo needs no file access or fetch (the CSP allows neither for data:). */
export const bytesOf = (dataUrl: string): Uint8Array => Uint8Array.from(atob(dataUrl.slice(dataUrl.indexOf(',') + 1)), (c) => c.charCodeAt(0));

/** One-click inpainting setups: the embedded emoji demo, and the field notes' try-on (with its garment input). */
export function InpaintPresets() {
  const loadDemo = useStudio((s) => s.loadInpaintDemo);
  const applyTryOn = useStudio((s) => s.applyTryOn);
  const tryOn = useStudio((s) => s.tryOn);
  const notify = useStudio((s) => s.notify);
  const [busy, setBusy] = useState(false);
  const demo = async (): Promise<void> => {
    setBusy(true);
    try {
      await loadDemo(bytesOf(demoImage), bytesOf(demoMask));
    } catch (e) {
      notify(`Inpaint demo: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="inpaint-presets">
      <div className="row">
        <button type="button" onClick={() => void demo()} disabled={busy} title="an emoji the embedded model drew, its mouth masked, repainted: no download" data-testid="inpaint-demo">Inpaint demo</button>
        <button type="button" onClick={applyTryOn} title={TRYON.description} data-testid="tryon-preset">Try-on preset</button>
      </div>
      {tryOn && <GarmentPicker />}
    </div>
  );
}

/** The try-on garment: pasted into the mask's bounding box of the person (the init image) as the start. */
function GarmentPicker() {
  const garment = useStudio((s) => s.garment);
  const setGarment = useStudio((s) => s.setGarment);
  const clear = useStudio((s) => s.clearGarment);
  const init = useStudio((s) => s.initImage);
  const mask = useStudio((s) => s.mask);
  const notify = useStudio((s) => s.notify);
  const file = useRef<HTMLInputElement>(null);
  const take = async (f: File | undefined): Promise<void> => {
    if (!f) return;
    try {
      await setGarment(f.name, await pngBytes(f));
    } catch (e) {
      notify(`Garment: ${(e as Error).message}`);
    } finally {
      if (file.current) file.current.value = '';
    }
  };
  const missing = [!init && 'the person (init image below)', !mask && 'the garment region (mask)', !garment && 'the garment'].filter(Boolean);
  return (
    <div className="garment" data-testid="tryon-inputs">
      <span className="field-label">Try-on: {TRYON.params.width}×{TRYON.params.height}, {TRYON.params.steps} steps, strength {TRYON.params.strength}; A baseline vs B DeepCache N=3 (sweep for N=2/3/5)</span>
      <div className="row">
        {garment && <img src={garment.dataUrl} alt="garment" data-testid="garment-preview" />}
        <button type="button" onClick={() => file.current?.click()} data-testid="garment-choose">{garment ? 'Replace garment…' : 'Choose garment…'}</button>
        {garment && <button type="button" className="danger" onClick={clear}>Clear</button>}
        <input ref={file} type="file" accept="image/png,image/*" hidden onChange={(e) => void take(e.target.files?.[0])} data-testid="garment-file" />
      </div>
      {missing.length > 0 && <span className="hint" data-testid="tryon-missing">needs {missing.join(', ')}</span>}
    </div>
  );
}
