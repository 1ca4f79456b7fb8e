import { useRef, useState, type DragEvent } from 'react';
import { useStudio } from '../store';
import { Slider } from './controls';

/** The file as PNG bytes: a PNG as it is, any other image the browser can decode re-encoded (the host takes PNG only). */
export async function pngBytes(file: File): Promise<Uint8Array> {
  if (file.type === 'image/png') return new Uint8Array(await file.arrayBuffer());
  if (!file.type.startsWith('image/')) throw new Error(`${file.name}: not an image (${file.type || 'unknown type'})`);
  const bitmap = await createImageBitmap(file).catch(() => {
    throw new Error(`${file.name}: this browser cannot decode it; use a PNG`);
  });
  const canvas = document.createElement('canvas');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  canvas.getContext('2d')!.drawImage(bitmap, 0, 0);
  const blob = await new Promise<Blob | null>((resolve) => canvas.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error(`${file.name}: could not be converted to PNG`);
  return new Uint8Array(await blob.arrayBuffer());
}

/** Init image for img2img: pick or drop a file; it is uploaded once and both sides start from it. */
export function InitImagePicker() {
  const image = useStudio((s) => s.initImage);
  const strength = useStudio((s) => s.inputs.strength);
  const setInputs = useStudio((s) => s.setInputs);
  const setInitImage = useStudio((s) => s.setInitImage);
  const clear = useStudio((s) => s.clearInitImage);
  const notify = useStudio((s) => s.notify);
  const input = useRef<HTMLInputElement>(null);
  const [over, setOver] = useState(false);
  const [busy, setBusy] = useState(false);

  const take = async (file: File | undefined): Promise<void> => {
    if (!file) return;
    setBusy(true);
    try {
      await setInitImage(file.name, await pngBytes(file));
    } catch (e) {
      notify(`Init image: ${(e as Error).message}`);
    } finally {
      setBusy(false);
      if (input.current) input.current.value = ''; // picking the same file again still fires change
    }
  };
  const onDrop = (e: DragEvent): void => {
    e.preventDefault();
    setOver(false);
    void take(e.dataTransfer.files[0]);
  };

  return (
    <div className="init-image">
      <span className="field-label">Init image (img2img, both sides)</span>
      <div
        className={`drop${over ? ' over' : ''}${image ? ' has-image' : ''}`}
        onDragOver={(e) => { e.preventDefault(); setOver(true); }}
        onDragLeave={() => setOver(false)}
        onDrop={onDrop}
        data-testid="init-image-drop"
      >
        {image ? (
          <>
            <img src={image.dataUrl} alt="init image" data-testid="init-image-preview" />
            <div className="init-meta">
              <span className="name" title={image.name}>{image.name}</span>
              <span className="hint">{image.width}×{image.height} · sets the size</span>
              <div className="row">
                <button type="button" onClick={() => input.current?.click()} disabled={busy}>Replace…</button>
                <button type="button" className="danger" onClick={clear} data-testid="init-image-clear">Clear</button>
              </div>
            </div>
          </>
        ) : (
          <div className="drop-hint">
            <span className="hint">{busy ? 'uploading…' : 'Drop an image here, or'}</span>
            <button type="button" onClick={() => input.current?.click()} disabled={busy}>Choose…</button>
            <span className="hint">none: txt2img</span>
          </div>
        )}
        <input ref={input} type="file" accept="image/png,image/*" hidden onChange={(e) => void take(e.target.files?.[0])} data-testid="init-image-file" />
      </div>
      {image && (
        <Slider label="Strength" value={strength} min={0.05} max={1} step={0.05} onChange={(v) => setInputs({ strength: v })} format={(v) => v.toFixed(2)} testId="strength" />
      )}
    </div>
  );
}
