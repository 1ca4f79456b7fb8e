import { useState } from 'react';
import { useStudio } from '../store';
import { currentModel } from '../store/model';
import { Section } from './controls';

export function ModelPanel() {
  const models = useStudio((s) => s.models);
  const modelDir = useStudio((s) => s.modelDir);
  const model = useStudio(currentModel);
  const error = useStudio((s) => s.modelError);
  const selectModel = useStudio((s) => s.selectModel);
  const addModel = useStudio((s) => s.addModel);
  const [path, setPath] = useState('');
  const [adding, setAdding] = useState(false);
  return (
    <Section title="Model">
      <select value={modelDir} onChange={(e) => selectModel(e.target.value)} aria-label="model" data-testid="model-select">
        {models.map((m) => (
          <option key={m.dir} value={m.dir}>{m.name} · {m.source} · {m.defaultSize}px</option>
        ))}
      </select>
      {model?.note && <p className="note warn" data-testid="model-note">{model.note}</p>}
      <form className="row" onSubmit={(e) => {
        e.preventDefault();
        setAdding(true);
        void addModel(path).then((ok) => {
          setAdding(false);
          if (ok) setPath('');
        });
      }}>
        <input value={path} onChange={(e) => setPath(e.target.value)} placeholder="model folder path…" title="add a diffusers-ONNX model folder by its path (~ is your home)" aria-label="model folder" />
        <button type="submit" disabled={!path || adding}>Add</button>
      </form>
      {error && <p className="note error" data-testid="model-error">{error}</p>}
    </Section>
  );
}
