/// <reference types="vite/client" />
import { useEffect, useRef, useState } from 'react';
import { useShallow } from 'zustand/react/shallow';
import { canny } from '../../app/canny';
import { useStudio } from '../store';
import { controlNetDemoModel } from '../store/control';
import { currentModel } from '../store/model';
import { Field, Section, Slider, Toggle } from './controls';
import { pngBytes } from './init-image';
import { bytesOf } from './inpaint-presets';
import demoEdges from '../../assets/demo/emoji-control-edges.png?inline';

/** The control map as the engine will make it: the image itself, or its canny edges (app/canny.ts, the engine's own code). */
function MapPreview({ src, canny: on, low, high }: { src: string; canny: boolean; low: number; high: number }) {
  const ref = useRef<HTMLCanvasElement>(null);
  const [pixels, setPixels] = useState<ImageData>();
  useEffect(() => {
    const img = new Image();
    img.onload = () => {
      const c = document.createElement('canvas');
      c.width = img.naturalWidth;
      c.height = img.naturalHeight;
      const ctx = c.getContext('2d')!;
      ctx.drawImage(img, 0, 0);
      setPixels(ctx.getImageData(0, 0, c.width, c.height));
    };
    img.src = src;
  }, [src]);
  useEffect(() => {
    const c = ref.current;
    if (!c || !pixels) return;
    c.width = pixels.width;
    c.height = pixels.height;
    const ctx = c.getContext('2d')!;
    if (!on) return ctx.putImageData(pixels, 0, 0);
    const e = canny(pixels.data, pixels.width, pixels.height, 4, low, high);
    const out = ctx.createImageData(pixels.width, pixels.height);
    for (let p = 0; p < e.length; p++) {
      const v = e[p] ? 255 : 0;
      out.data.set([v, v, v, 255], p * 4);
    }
    ctx.putImageData(out, 0, 0);
  }, [pixels, on, low, high]);
  return <canvas ref={ref} className="control-map" data-testid="control-map" title={on ? `canny edges (low ${low}, high ${high})` : 'the image is the map'} />;
}

/** ControlNet(s) for both sides: folders by path (the model's own offered), scale and step window each, one control image, canny with a live preview. */
export function ControlNetPanel() {
  const c = useStudio(useShallow((s) => s.control));
  const image = useStudio((s) => s.controlImage);
  const size = useStudio(useShallow((s) => (s.initImage ? [s.initImage.width, s.initImage.height] : [s.inputs.width, s.inputs.height])));
  const model = useStudio(currentModel);
  const canDemo = useStudio((s) => controlNetDemoModel(s) !== undefined);
  const a = useStudio(useShallow((s) => ({ demo: s.loadControlNetDemo, set: s.setControl, unit: s.setControlUnit, add: s.addControlUnit, remove: s.removeControlUnit, setImage: s.setControlImage, clear: s.clearControlImage, notify: s.notify })));
  const file = useRef<HTMLInputElement>(null);
  const [busy, setBusy] = useState(false);
  const offered = model?.controlnets ?? [];
  // what the engine said about the current entry's runs (resized map, how often the ControlNet ran), per side
  const said = useStudio(useShallow((st) => [...new Set((st.current?.compare?.runs ?? []).filter((r, _, all) => r.repeat === Math.min(...all.map((x) => x.repeat))).flatMap((r) => (r.result.notices ?? []).map((n) => `${r.side}: ${n}`)))]));
  const take = async (f: File | undefined): Promise<void> => {
    if (!f) return;
    setBusy(true);
    try {
      await a.setImage(f.name, await pngBytes(f));
    } catch (e) {
      a.notify(`Control image: ${(e as Error).message}`);
    } finally {
      setBusy(false);
      if (file.current) file.current.value = '';
    }
  };
  const demo = async (): Promise<void> => {
    setBusy(true);
    try {
      await a.demo(bytesOf(demoEdges));
    } catch (e) {
      a.notify(`ControlNet demo: ${(e as Error).message}`);
    } finally {
      setBusy(false);
    }
  };
  const toggle = (on: boolean): void => {
    a.set({ enabled: on });
    if (on && c.units.length === 0) a.add(offered[0]?.dir ?? '');
  };
  return (
    <Section title="ControlNet (both sides)" right={<Toggle label="on" checked={c.enabled} onChange={toggle} testId="controlnet-toggle" />}>
      {canDemo && (
        <button type="button" onClick={() => void demo()} disabled={busy} data-testid="controlnet-demo"
          title="the embedded emoji model's ControlNet on a held-out emoji's canny edges, empty prompt, scale 1: no download">Edges → emoji demo</button>
      )}
      {!c.enabled && <p className="hint" data-testid="controlnet-offered">{offered.length ? `${offered.map((o) => o.name).join(', ')} for this model` : 'add a ControlNet folder by path'}</p>}
      {c.enabled && (
        <div className="controlnet" data-testid="controlnet-panel">
          <datalist id="controlnet-dirs">{offered.map((o) => <option key={o.dir} value={o.dir}>{o.name}</option>)}</datalist>
          {c.units.map((u, i) => (
            <div className="control-unit" key={i} data-testid={`control-unit-${i}`}>
              <div className="row">
                <Field label={`ControlNet ${i + 1} folder`}>
                  <input list="controlnet-dirs" value={u.dir} placeholder="/path/to/controlnet (model.onnx + config.json)" onChange={(e) => a.unit(i, { dir: e.target.value })} aria-label={`ControlNet ${i + 1} folder`} title={u.dir} />
                </Field>
                <button type="button" className="icon danger" title="remove this ControlNet" aria-label={`remove ControlNet ${i + 1}`} onClick={() => a.remove(i)}>✕</button>
              </div>
              <Slider label="Scale" value={u.scale} min={0} max={2} step={0.05} onChange={(scale) => a.unit(i, { scale })} format={(v) => v.toFixed(2)} testId={`control-scale-${i}`} />
              <div className="row">
                <Slider label="Start" value={u.start} min={0} max={1} step={0.05} onChange={(start) => a.unit(i, { start })} format={(v) => v.toFixed(2)} />
                <Slider label="End" value={u.end} min={0} max={1} step={0.05} onChange={(end) => a.unit(i, { end })} format={(v) => v.toFixed(2)} />
              </div>
              {u.start >= u.end && <span className="hint warn">start must be below end (the run would be refused)</span>}
            </div>
          ))}
          <button type="button" onClick={() => a.add(offered[0]?.dir ?? '')} disabled={c.units.length >= 4} data-testid="control-add">+ ControlNet</button>
          <span className="field-label">Control image (every ControlNet)</span>
          <div className={`drop${image ? ' has-image' : ''}`} onDragOver={(e) => e.preventDefault()} onDrop={(e) => { e.preventDefault(); void take(e.dataTransfer.files[0]); }} data-testid="control-image-drop">
            {image ? (
              <>
                <img src={image.dataUrl} alt="control image" />
                <MapPreview src={image.dataUrl} canny={c.canny} low={c.low} high={c.high} />
                <div className="init-meta">
                  <span className="name" title={image.name}>{image.name}</span>
                  <span className={`hint${image.width !== size[0] || image.height !== size[1] ? ' warn' : ''}`} data-testid="control-size">
                    {image.width}×{image.height}{image.width !== size[0] || image.height !== size[1] ? ` → resized to ${size[0]}×${size[1]} at run time` : ' · the run\'s size'}
                  </span>
                  <div className="row">
                    <button type="button" onClick={() => file.current?.click()} disabled={busy}>Replace…</button>
                    <button type="button" className="danger" onClick={a.clear}>Clear</button>
                  </div>
                </div>
              </>
            ) : (
              <div className="drop-hint">
                <span className="hint">{busy ? 'uploading…' : 'Drop the control image here, or'}</span>
                <button type="button" onClick={() => file.current?.click()} disabled={busy}>Choose…</button>
              </div>
            )}
            <input ref={file} type="file" accept="image/png,image/*" hidden onChange={(e) => void take(e.target.files?.[0])} data-testid="control-image-file" />
          </div>
          <Toggle label="Canny edges" checked={c.canny} onChange={(canny) => a.set({ canny })} testId="control-canny" />
          <div className="hint">{c.canny ? 'the map is the edges of the image (preview above)' : 'off: the image itself is the map'}</div>
          {c.canny && (
            <div className="row">
              <Slider label="Low" value={c.low} min={0} max={500} step={5} onChange={(low) => a.set({ low, high: Math.max(low, c.high) })} testId="canny-low" />
              <Slider label="High" value={c.high} min={0} max={500} step={5} onChange={(high) => a.set({ high, low: Math.min(c.low, high) })} testId="canny-high" />
            </div>
          )}
 {said.length > 0 && (
            <ul className="control-notices" data-testid="control-notices" title="from the shown comparison's first run of each side">
              {said.map((n) => <li key={n} className="hint" title={n}>{n.replace(/\((?:[^()]*[\\/])([^\\/()]+)\)/, '(…/$1)')}</li>)}
            </ul>
          )}
          <Field label="With DeepCache, cached steps" hint="reuse: no ControlNet on cached steps (faster; residuals of the last full step)">
            <select value={c.onCachedSteps} onChange={(e) => a.set({ onCachedSteps: e.target.value as 'run' | 'reuse' })} aria-label="ControlNet on DeepCache cached steps">
              <option value="run">run the ControlNet every step</option>
              <option value="reuse">reuse the last full step's residuals</option>
            </select>
          </Field>
        </div>
      )}
    </Section>
  );
}
