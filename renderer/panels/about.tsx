import { useEffect, useState } from 'react';
import type { About as AboutInfo } from '../../app/studio';
import { useStudio } from '../store';
import { Markdown } from './markdown';

export function About() {
  const client = useStudio((s) => s.client);
  const setUi = useStudio((s) => s.setUi);
  const [about, setAbout] = useState<AboutInfo>();
  const [error, setError] = useState<string>();
  useEffect(() => {
    client.call('studio.about', {}).then(setAbout, (e: Error) => setError(e.message));
  }, [client]);
  return (
    <div className="modal-backdrop" onClick={() => setUi({ aboutOpen: false })}>
      <div className="modal" role="dialog" aria-label="About" onClick={(e) => e.stopPropagation()}>
        <h2>Diffusion A/B Studio</h2>
        <p>Compare Stable Diffusion inference accelerations side by side, by eye and by number.</p>
        {error && <p className="note error">{error}</p>}
        {about && (
          <>
            <p>Default model: <b>{about.model}</b></p>
            <p className="hint">{Object.entries(about.versions).map(([k, v]) => `${k} ${v}`).join(' · ')}</p>
            <h3>Embedded model attributions</h3>
            {about.licenses ? <Markdown className="licenses" text={about.licenses} /> : <p className="hint">assets/models/emoji-sd/LICENSES.md is not installed yet.</p>}
          </>
        )}
        <button onClick={() => setUi({ aboutOpen: false })}>Close</button>
      </div>
    </div>
  );
}
