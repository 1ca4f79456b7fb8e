import { useEffect, useRef, useState, type PointerEvent } from 'react';
import { useStudio } from '../store';
import type { InitImage } from '../store/inputs';
import { Slider } from './controls';
import { pngBytes } from './init-image';

/** Painted pixels are opaque cyan in the canvas (shown at 55% over the image: a colour no emoji is); the uploaded mask is white there, black elsewhere. */
const PAINT = 'rgb(0, 210, 255)';

/**
 * The inpainting mask over the init image: paint (white = repaint) or erase with a round brush, invert,
 * clear, or upload a mask PNG. The canvas is at the image's resolution; each finished stroke uploads the mask.
 */
export function MaskEditor({ image }: { image: InitImage }) {
  const mask = useStudio((s) => s.mask);
  const setMask = useStudio((s) => s.setMask);
  const clearMask = useStudio((s) => s.clearMask);
  const notify = useStudio((s) => s.notify);
  const canvas = useRef<HTMLCanvasElement>(null);
  const file = useRef<HTMLInputElement>(null);
  const last = useRef<{ x: number; y: number } | undefined>(undefined);
  const [brush, setBrush] = useState(Math.max(2, Math.round(image.width / 10)));
  const [erase, setErase] = useState(false);

  // a mask from elsewhere (the demo, an upload, a restored session) is drawn into the canvas; our own strokes are there already
  useEffect(() => {
    const c = canvas.current!;
    if (mask?.name === PAINTED) return;
    c.getContext('2d')!.clearRect(0, 0, c.width, c.height);
    if (mask) void drawMask(c, mask.dataUrl).catch((e: Error) => notify(`Mask: ${e.message}`));
  }, [mask?.ref, image.ref]);

  const upload = async (): Promise<void> => {
    try {
      await setMask(PAINTED, await exportMask(canvas.current!));
    } catch (e) {
      notify(`Mask: ${(e as Error).message}`);
    }
  };
  const at = (e: PointerEvent<HTMLCanvasElement>) => {
    const r = e.currentTarget.getBoundingClientRect();
    return { x: ((e.clientX - r.left) / r.width) * image.width, y: ((e.clientY - r.top) / r.height) * image.height };
  };
  const stroke = (to: { x: number; y: number }): void => {
    const g = canvas.current!.getContext('2d')!;
    g.globalCompositeOperation = erase ? 'destination-out' : 'source-over';
    g.strokeStyle = g.fillStyle = PAINT;
    g.lineWidth = brush;
    g.lineCap = 'round';
    g.beginPath();
    const from = last.current ?? to;
    g.moveTo(from.x, from.y);
    g.lineTo(to.x + (from === to ? 0.01 : 0), to.y);
    g.stroke();
    last.current = to;
  };
  const invert = (): void => {
    const c = canvas.current!, g = c.getContext('2d')!;
    const d = g.getImageData(0, 0, c.width, c.height);
    for (let i = 0; i < d.data.length; i += 4) {
      const on = d.data[i + 3]! < 128;
      d.data.set(on ? [0, 210, 255, 255] : [0, 0, 0, 0], i);
    }
    g.putImageData(d, 0, 0);
    void upload();
  };
  const take = async (f: File | undefined): Promise<void> => {
    if (!f) return;
    try {
      const bytes = await pngBytes(f);
      await drawMask(canvas.current!, URL.createObjectURL(new Blob([bytes as BlobPart], { type: 'image/png' })));
      await upload();
    } catch (e) {
      notify(`Mask: ${(e as Error).message}`);
    } finally {
      if (file.current) file.current.value = '';
    }
  };

  return (
    <div className="mask-editor" data-testid="mask-editor">
      <span className="field-label">Mask (inpaint: paint where to repaint) {mask ? '· set' : '· none: img2img'}</span>
      <div className="mask-stage" style={{ aspectRatio: `${image.width} / ${image.height}` }}>
        <img src={image.dataUrl} alt="init image under the mask" />
        <canvas
          ref={canvas} width={image.width} height={image.height} data-testid="mask-canvas"
          onPointerDown={(e) => { e.currentTarget.setPointerCapture(e.pointerId); last.current = undefined; stroke(at(e)); }}
          onPointerMove={(e) => { if (e.buttons & 1) stroke(at(e)); }}
          onPointerUp={() => { last.current = undefined; void upload(); }}
        />
      </div>
      <Slider label="Brush" value={brush} min={1} max={Math.max(8, Math.round(image.width / 3))} step={1} onChange={setBrush} format={(v) => `${v} px`} testId="mask-brush" />
      <div className="row">
        <button type="button" className={erase ? '' : 'on'} onClick={() => setErase(false)} data-testid="mask-paint">Paint</button>
        <button type="button" className={erase ? 'on' : ''} onClick={() => setErase(true)} data-testid="mask-erase">Erase</button>
        <button type="button" onClick={invert} data-testid="mask-invert">Invert</button>
        <button type="button" className="danger" onClick={() => { canvas.current!.getContext('2d')!.clearRect(0, 0, image.width, image.height); clearMask(); }} data-testid="mask-clear">Clear</button>
        <button type="button" onClick={() => file.current?.click()}>Upload…</button>
        <input ref={file} type="file" accept="image/png,image/*" hidden onChange={(e) => void take(e.target.files?.[0])} data-testid="mask-file" />
      </div>
    </div>
  );
}

const PAINTED = 'painted mask.png';

/** A mask PNG (white = repaint) into the canvas as painted pixels, scaled to the canvas (the init image's size). */
async function drawMask(c: HTMLCanvasElement, src: string): Promise<void> {
  const img = new Image();
  img.src = src;
  await img.decode().catch(() => {
    throw new Error('the browser cannot decode this mask');
  });
  const tmp = document.createElement('canvas');
  tmp.width = c.width;
  tmp.height = c.height;
  const t = tmp.getContext('2d')!;
  t.drawImage(img, 0, 0, c.width, c.height);
  const d = t.getImageData(0, 0, c.width, c.height);
  for (let i = 0; i < d.data.length; i += 4) {
    const white = d.data[i]! * 0.299 + d.data[i + 1]! * 0.587 + d.data[i + 2]! * 0.114 >= 128;
    d.data.set(white ? [0, 210, 255, 255] : [0, 0, 0, 0], i);
  }
  c.getContext('2d')!.putImageData(d, 0, 0);
}

/** The canvas as the engine's mask: opaque grey PNG, white where painted. */
async function exportMask(c: HTMLCanvasElement): Promise<Uint8Array> {
  const src = c.getContext('2d')!.getImageData(0, 0, c.width, c.height);
  const out = new ImageData(c.width, c.height);
  for (let i = 0; i < src.data.length; i += 4) {
    const v = src.data[i + 3]! >= 128 ? 255 : 0;
    out.data.set([v, v, v, 255], i);
  }
  const tmp = document.createElement('canvas');
  tmp.width = c.width;
  tmp.height = c.height;
  tmp.getContext('2d')!.putImageData(out, 0, 0);
  const blob = await new Promise<Blob | null>((resolve) => tmp.toBlob(resolve, 'image/png'));
  if (!blob) throw new Error('the painted mask could not be encoded');
  return new Uint8Array(await blob.arrayBuffer());
}
