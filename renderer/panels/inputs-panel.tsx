import { useShallow } from 'zustand/react/shallow';
import { SCHEDULER_NAMES } from '../../app/contract';
import { useStudio } from '../store';
import { currentModel } from '../store/model';
import { Field, Section, Slider, Toggle } from './controls';
import { InitImagePicker } from './init-image';
import { PromptTokens } from './prompt-tokens';
import { PngInfoDrop } from './png-info';

const SIZES = [64, 96, 128, 192, 256, 320, 384, 448, 512, 576, 640, 768, 1024];

export function InputsPanel() {
  const i = useStudio(useShallow((s) => s.inputs));
  const set = useStudio((s) => s.setInputs);
  const randomise = useStudio((s) => s.randomiseSeed);
  const model = useStudio(currentModel);
  const loras = useStudio((s) => s.sharedLoras);
  const setLora = useStudio((s) => s.setSharedLora);
  const init = useStudio((s) => s.initImage);
  const sizes = [...new Set([...SIZES, model?.defaultSize ?? 512, i.width, i.height])].sort((a, b) => a - b);
  return (
    <Section title="Inputs (same for A and B)">
      <PngInfoDrop />
      <Field label="Prompt" hint={<PromptTokens text={i.prompt} what="prompt" empty="Empty prompt: the images follow no text (an unconditional sample)." />}>
        <textarea rows={2} value={i.prompt} onChange={(e) => set({ prompt: e.target.value })} data-testid="prompt" />
      </Field>
      <Field label="Negative prompt" hint={<PromptTokens text={i.negativePrompt} what="negative-prompt" />}>
        <input value={i.negativePrompt} onChange={(e) => set({ negativePrompt: e.target.value })} data-testid="negative-prompt" />
      </Field>
      <div className="row">
        <Field label="Seed">
          <input type="number" min={0} value={i.seed} onChange={(e) => set({ seed: Math.max(0, Math.floor(Number(e.target.value) || 0)) })} data-testid="seed" />
        </Field>
        <button type="button" className="icon" title="random seed" onClick={randomise} aria-label="randomise seed">⚄</button>
        <Toggle label="lock" checked={i.seedLocked} onChange={(v) => set({ seedLocked: v })} />
      </div>
      <Slider label="Steps" value={i.steps} min={1} max={100} step={1} onChange={(steps) => set({ steps })} testId="steps" />
      <Slider label="Guidance" value={i.guidance} min={0} max={20} step={0.5} onChange={(guidance) => set({ guidance })} />
      <InitImagePicker />
      <div className="row">
        <Field label="Width">
          <select value={init ? init.width : i.width} disabled={!!init} title={init ? 'the init image sets the size' : undefined} onChange={(e) => set({ width: Number(e.target.value) })} aria-label="width">
            {(init ? [init.width] : sizes).map((s) => <option key={s}>{s}</option>)}
          </select>
        </Field>
        <Field label="Height">
          <select value={init ? init.height : i.height} disabled={!!init} title={init ? 'the init image sets the size' : undefined} onChange={(e) => set({ height: Number(e.target.value) })} aria-label="height">
            {(init ? [init.height] : sizes).map((s) => <option key={s}>{s}</option>)}
          </select>
        </Field>
      </div>
      {/* its own row: "model's (pndm)" is cut to "mode…" beside the size selects */}
      <Field label="Scheduler">
        <select value={i.scheduler} onChange={(e) => set({ scheduler: e.target.value as typeof i.scheduler })} aria-label="scheduler">
          <option value="">model's ({model?.defaultScheduler ?? '…'})</option>
          {SCHEDULER_NAMES.map((s) => <option key={s}>{s}</option>)}
        </select>
      </Field>
      <div className="loras">
        <span className="field-label">LoRAs of this model (both sides)</span>
        {loras.length === 0 && <span className="hint">none in {model ? `${model.name}/loras` : 'this model'}</span>}
        {loras.map((l) => (
          <div className="lora" key={l.path}>
            <Toggle label={l.path.split(/[\\/]/).pop()!.replace(/\.safetensors$/, '')} checked={l.enabled} onChange={(enabled) => setLora(l.path, { enabled })} />
            <input type="range" min={-2} max={2} step={0.05} value={l.weight} disabled={!l.enabled} onChange={(e) => setLora(l.path, { weight: Number(e.target.value) })} aria-label="LoRA weight" />
            <b>{l.weight.toFixed(2)}</b>
          </div>
        ))}
      </div>
    </Section>
  );
}
