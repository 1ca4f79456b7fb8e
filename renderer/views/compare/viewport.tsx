import { useEffect, useRef, type ReactNode } from 'react';
import { followPointer } from './follow-pointer';
import { useStudio, useStudioStore } from '../../store';

/**
 * A pannable, zoomable frame. Zoom and pan live in the store, so every compare view (and both
 * panes of side by side) moves together. Wheel zooms about the cursor, drag pans, double-click resets.
 */
export function Viewport({ children, overlay, label }: { children: ReactNode; overlay?: ReactNode; label?: string }) {
  const store = useStudioStore();
  const zoom = useStudio((s) => s.zoom);
  const pan = useStudio((s) => s.pan);
  const ref = useRef<HTMLDivElement>(null);

  useEffect(() => {
    const el = ref.current!;
    const onWheel = (e: WheelEvent): void => {
      e.preventDefault();
      const { zoom: z, pan: p, setZoom } = store.getState();
      const r = el.getBoundingClientRect();
      const cx = e.clientX - r.left, cy = e.clientY - r.top;
      const next = Math.min(32, Math.max(0.25, z * Math.exp(-e.deltaY * 0.0015)));
      setZoom(next, { x: cx - ((cx - p.x) * next) / z, y: cy - ((cy - p.y) * next) / z });
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [store]);

  const onPointerDown = (e: React.PointerEvent<HTMLDivElement>): void => {
    if (e.button !== 0 || (e.target as HTMLElement).closest('[data-no-pan]')) return;
    const start = { x: e.clientX, y: e.clientY, pan: store.getState().pan };
    e.currentTarget.setPointerCapture(e.pointerId);
    followPointer((ev) => store.getState().setPan({ x: start.pan.x + ev.clientX - start.x, y: start.pan.y + ev.clientY - start.y }));
  };

  return (
    <div className="viewport" ref={ref} onPointerDown={onPointerDown} onDoubleClick={() => store.getState().resetView()}>
      <div className="layer" style={{ transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})` }}>{children}</div>
      {overlay}
      {label && <span className="pane-label">{label}</span>}
    </div>
  );
}

/** The same transform as the viewport's layer, for stacking several layers (swipe). */
export function Layer({ children, style }: { children: ReactNode; style?: React.CSSProperties }) {
  const zoom = useStudio((s) => s.zoom);
  const pan = useStudio((s) => s.pan);
  return <div className="layer" style={{ transform: `translate(${pan.x}px, ${pan.y}px) scale(${zoom})`, ...style }}>{children}</div>;
}

/** An RGBA buffer drawn to a canvas that scales like the images. */
export function PixelCanvas({ width, height, rgba, label }: { width: number; height: number; rgba: Uint8ClampedArray; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const c = ref.current!;
    c.width = width;
    c.height = height;
    c.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba), width, height), 0, 0);
  }, [width, height, rgba]);
  return <canvas ref={ref} className="fit" aria-label={label} data-testid={label} />;
}
