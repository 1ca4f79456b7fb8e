import { useEffect, useState } from 'react';
import { useStudio, useStudioStore } from '../../store';
import type { CompareView } from './types';
import { Viewport } from './viewport';

function Blink({ a, b, labelA, labelB }: { a: string; b: string; labelA: string; labelB: string }) {
  const store = useStudioStore();
  const showB = useStudio((s) => s.blinkB);
  const [auto, setAuto] = useState(false);
  useEffect(() => {
    const onKey = (e: KeyboardEvent): void => {
      if ((e.key === 'b' || e.key === ' ') && !(e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement || e.target instanceof HTMLSelectElement)) {
        e.preventDefault();
        store.getState().setUi({ blinkB: !store.getState().blinkB });
      }
    };
    window.addEventListener('keydown', onKey);
    return () => window.removeEventListener('keydown', onKey);
  }, [store]);
  useEffect(() => {
    if (!auto) return;
    const t = setInterval(() => store.getState().setUi({ blinkB: !store.getState().blinkB }), 500);
    return () => clearInterval(t);
  }, [auto, store]);
  return (
    <div className="panes one">
      <Viewport
        label={showB ? labelB : labelA}
        overlay={
          <label className="blink-auto" data-no-pan>
            <input type="checkbox" checked={auto} onChange={(e) => setAuto(e.target.checked)} /> auto-blink
          </label>
        }
      >
        <img className="fit" src={showB ? b : a} alt={showB ? 'B' : 'A'} data-testid="blink-image" draggable={false} />
      </Viewport>
    </div>
  );
}

export const blink: CompareView = { id: 'blink', label: 'Blink', hint: 'press B or space', Component: Blink };
