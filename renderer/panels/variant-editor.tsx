import { useShallow } from 'zustand/react/shallow';
import { PROVIDERS, type Provider } from '../../app/variant';
import type { Side } from '../../app/studio';
import { useStudio } from '../store';
import { currentModel } from '../store/model';
import { variantProblem, type LoraPick, type VariantForm } from '../store/variants';
import { Field, Slider, Toggle } from './controls';

const fileName = (p: string): string => p.split(/[\\/]/).pop()!.replace(/\.safetensors$/, '');

/** Every acceleration option of one side, as toggles, selects and sliders. */
export function VariantEditor({ side }: { side: Side }) {
  const v = useStudio(useShallow((s) => (side === 'A' ? s.a : s.b)));
  const setVariant = useStudio((s) => s.setVariant);
  const providers = useStudio((s) => s.providers);
  const model = useStudio(currentModel);
  const shared = useStudio((s) => s.sharedLoras);
  const set = (patch: Partial<VariantForm>): void => setVariant(side, patch);
  const status = (id: Provider) => providers.find((p) => p.id === id);
  const chosen = status(v.provider);
  const problem = variantProblem(v, shared);
  const modelLoras = model?.loras ?? [];
  const picks: LoraPick[] = modelLoras.map((l) => v.loras.find((x) => x.path === l.path) ?? { path: l.path, weight: 1, enabled: false });
  const setPick = (path: string, patch: Partial<LoraPick>): void =>
    set({ loras: picks.map((p) => (p.path === path ? { ...p, ...patch } : p)) });
  const dc = v.deepcache;
  return (
    <div className="variant" data-testid={`variant-${side}`}>
      <Field label="Label"><input value={v.label} maxLength={40} onChange={(e) => set({ label: e.target.value })} /></Field>
      <div className="row">
        <Field label="Provider" hint={chosen && !chosen.available ? <span className="warn">{chosen.reason}</span> : undefined}>
          <select value={v.provider} onChange={(e) => set({ provider: e.target.value as Provider })} aria-label="provider">
            {PROVIDERS.map((id) => {
              const s = status(id);
              return <option key={id} value={id} disabled={s ? !s.available && id !== v.provider : false} title={s?.reason}>{id}{s && !s.available ? ' — unavailable' : ''}</option>;
            })}
          </select>
        </Field>
        <Field label="Precision">
          <select value={v.precision} onChange={(e) => set({ precision: e.target.value as VariantForm['precision'] })} aria-label="precision">
            <option>fp32</option><option>fp16</option><option>bf16</option>
          </select>
        </Field>
        <Field label="Graph opt.">
          <select value={v.optLevel} onChange={(e) => set({ optLevel: e.target.value as VariantForm['optLevel'] })} aria-label="graph optimisation">
            <option>disabled</option><option>basic</option><option>extended</option><option>all</option>
          </select>
        </Field>
      </div>
      {providers.some((p) => !p.available) && (
        <details className="unavailable"><summary>{providers.filter((p) => !p.available).length} providers unavailable here</summary>
          <ul>{providers.filter((p) => !p.available).map((p) => <li key={p.id}><b>{p.id}</b>: {p.reason}</li>)}</ul>
        </details>
      )}
      <div className="row wrap">
        <Toggle label="CPU fallback" checked={v.allowFallback} onChange={(allowFallback) => set({ allowFallback })} />
        <Toggle label="Fused attention" checked={v.fusedAttention} onChange={(fusedAttention) => set({ fusedAttention })} />
      </div>
      <fieldset className={`group${dc.enabled ? '' : ' off'}`}>
        <legend><Toggle label="DeepCache" checked={dc.enabled} onChange={(enabled) => set({ deepcache: { ...dc, enabled } })} testId={`deepcache-${side}`} /></legend>
        <Slider label="Interval N" value={dc.interval} min={1} max={10} step={1} onChange={(interval) => set({ deepcache: { ...dc, interval } })} testId={`deepcache-interval-${side}`} />
        <div className="row">
          <Field label="Branch" hint={`up block ${Math.floor(dc.branch / 3)}, layer ${dc.branch % 3} from the outside`}>
            <select value={dc.branch} onChange={(e) => set({ deepcache: { ...dc, branch: Number(e.target.value) } })} aria-label="DeepCache branch">
              {Array.from({ length: 12 }, (_, b) => <option key={b} value={b}>{b}</option>)}
            </select>
          </Field>
          <Field label="Schedule">
            <select value={dc.schedule} onChange={(e) => set({ deepcache: { ...dc, schedule: e.target.value as 'uniform' | 'nonuniform' } })} aria-label="DeepCache schedule">
              <option>uniform</option><option>nonuniform</option>
            </select>
          </Field>
        </div>
      </fieldset>
      <Slider label="CFG truncation" value={v.cfgTruncation} min={0.05} max={1} step={0.05} onChange={(cfgTruncation) => set({ cfgTruncation })}
        format={(x) => (x >= 1 ? 'off' : `after ${Math.round(x * 100)}% of steps`)} />
      <fieldset className="group">
        <legend>LoRAs (this side only)</legend>
        {picks.length === 0 && <span className="hint">no LoRAs in this model's loras/ folder</span>}
        {picks.map((l) => (
          <div className="lora" key={l.path}>
            <Toggle label={fileName(l.path)} checked={l.enabled} onChange={(enabled) => setPick(l.path, { enabled })} />
            <input type="range" min={-2} max={2} step={0.05} value={l.weight} disabled={!l.enabled} onChange={(e) => setPick(l.path, { weight: Number(e.target.value) })} aria-label="LoRA weight" />
            <b>{l.weight.toFixed(2)}</b>
          </div>
        ))}
      </fieldset>
      <fieldset className={`group${v.lcmLora.enabled ? '' : ' off'}`}>
        <legend><Toggle label="LCM-LoRA" checked={v.lcmLora.enabled} onChange={(enabled) => set({ lcmLora: { ...v.lcmLora, enabled } })} /></legend>
        <select value={v.lcmLora.path} onChange={(e) => set({ lcmLora: { ...v.lcmLora, path: e.target.value } })} aria-label="LCM-LoRA file" disabled={!v.lcmLora.enabled}>
          <option value="">choose a LoRA file…</option>
          {modelLoras.map((l) => <option key={l.path} value={l.path}>{l.name}</option>)}
        </select>
        <span className="hint">this side then samples with the LCM scheduler, 4 steps, guidance 1 (the engine sets them)</span>
      </fieldset>
      {problem && <p className="note error">{problem}</p>}
    </div>
  );
}
