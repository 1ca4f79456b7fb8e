import { useRef } from 'react';
import { followPointer } from './follow-pointer';
import { useStudio, useStudioStore } from '../../store';
import type { CompareView } from './types';
import { Layer, Viewport } from './viewport';

function Swipe({ a, b, labelA, labelB }: { a: string; b: string; labelA: string; labelB: string }) {
  const store = useStudioStore();
  const pos = useStudio((s) => s.swipe);
  const frame = useRef<HTMLDivElement>(null);
  const drag = (e: React.PointerEvent): void => {
    e.stopPropagation();
    const el = frame.current!;
    const at = (x: number): void => {
      const r = el.getBoundingClientRect();
      store.getState().setUi({ swipe: Math.min(1, Math.max(0, (x - r.left) / r.width)) });
    };
    at(e.clientX);
    followPointer((ev) => at(ev.clientX));
  };
  return (
    <div className="panes one" ref={frame}>
      <Viewport
        overlay={
          <>
            {/* B is clipped in screen space, outside the zoomed layer, so the seam stays where the handle is */}
            <div className="clip" style={{ clipPath: `inset(0 0 0 ${pos * 100}%)` }}>
              <Layer><img className="fit" src={b} alt="B" draggable={false} /></Layer>
            </div>
            <div className="swipe-handle" data-no-pan style={{ left: `${pos * 100}%` }} onPointerDown={drag} role="slider" aria-label="swipe position" aria-valuenow={Math.round(pos * 100)} />
            <span className="pane-label">{labelA}</span>
            <span className="pane-label right">{labelB}</span>
          </>
        }
      >
        <img className="fit" src={a} alt="A" draggable={false} />
      </Viewport>
    </div>
  );
}

export const swipe: CompareView = { id: 'swipe', label: 'Swipe', hint: 'drag the handle', Component: Swipe };
