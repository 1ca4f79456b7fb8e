import { createContext, useContext, useEffect, useLayoutEffect, useRef, useState, type ReactNode } from 'react';
import type { Region } from '../../../app/verdict';
import { followPointer } from './follow-pointer';
import { useStudio, useStudioStore } from '../../store';

type Size = { width: number; height: number };
/** The pixel size of the pair on show (both sides have it); the compare panel provides it. */
export const ImageSize = createContext<Size>({ width: 1, height: 1 });

/**
 * Where the image lies in one viewport: the fit scale, and the screen offset of image pixel (0, 0).
 * Zoom and centre are image coordinates from the store, so panes of any size show the same region.
 */
export interface Geometry {
  scale: number;
  left: number;
  top: number;
}

export function geometry(view: Size, img: Size, zoom: number, center: { x: number; y: number }): Geometry {
  const scale = Math.min(view.width / img.width, view.height / img.height) * zoom;
  return { scale, left: view.width / 2 - center.x * img.width * scale, top: view.height / 2 - center.y * img.height * scale };
}

const GeometryContext = createContext<{ g: Geometry; view: Size }>({ g: { scale: 1, left: 0, top: 0 }, view: { width: 1, height: 1 } });

/** The layer transform: the image's fit box (object-fit: contain in a viewport-sized layer) moved and scaled to `g`. */
function layerTransform(g: Geometry, view: Size, img: Size, zoom: number): string {
  const fit = g.scale / zoom;
  const ox = (view.width - img.width * fit) / 2, oy = (view.height - img.height * fit) / 2;
  return `translate(${g.left - ox * zoom}px, ${g.top - oy * zoom}px) scale(${zoom})`;
}

function useViewSize(ref: React.RefObject<HTMLDivElement | null>): Size {
  const [size, setSize] = useState<Size>({ width: 1, height: 1 });
  useLayoutEffect(() => {
    const el = ref.current!;
    const measure = (): void => setSize({ width: el.clientWidth || 1, height: el.clientHeight || 1 });
    measure();
    const ro = new ResizeObserver(measure);
    ro.observe(el);
    return () => ro.disconnect();
  }, [ref]);
  return size;
}

/** A rectangle in image pixels drawn in screen space (a 1-pixel image square stays visible at fit). */
function Mark({ r, className, testId }: { r: Region; className: string; testId: string }) {
  const { g } = useContext(GeometryContext);
  return <div className={className} data-testid={testId} style={{ left: g.left + r.x * g.scale, top: g.top + r.y * g.scale, width: Math.max(3, r.w * g.scale), height: Math.max(3, r.h * g.scale) }} />;
}

/**
 * A pannable, zoomable frame. Zoom and centre live in the store in image coordinates, so every
 * compare view (and both panes of side by side) shows the same region. Wheel zooms about the
 * cursor, drag pans, double-click fits; the pixel under the pointer feeds the pixel inspector.
 */
export function Viewport({ children, overlay, label }: { children: ReactNode; overlay?: ReactNode; label?: string }) {
  const store = useStudioStore();
  const zoom = useStudio((s) => s.zoom);
  const center = useStudio((s) => s.center);
  const inspect = useStudio((s) => s.inspect);
  const highlight = useStudio((s) => s.highlight);
  const img = useContext(ImageSize);
  const ref = useRef<HTMLDivElement>(null);
  const view = useViewSize(ref);
  const g = geometry(view, img, zoom, center);
  const live = useRef({ view, img });
  live.current = { view, img };

  /** The image point (pixels) under a client position, with this viewport's geometry now. */
  const imagePoint = (clientX: number, clientY: number): { x: number; y: number; g: Geometry } => {
    const s = store.getState(), r = ref.current!.getBoundingClientRect();
    const gg = geometry(live.current.view, live.current.img, s.zoom, s.center);
    return { x: (clientX - r.left - gg.left) / gg.scale, y: (clientY - r.top - gg.top) / gg.scale, g: gg };
  };

  useEffect(() => {
    const el = ref.current!;
    const onWheel = (e: WheelEvent): void => {
      e.preventDefault();
      const { zoom: z, setZoom } = store.getState();
      const p = imagePoint(e.clientX, e.clientY), r = el.getBoundingClientRect();
      const next = Math.min(32, Math.max(0.25, z * Math.exp(-e.deltaY * 0.0015)));
      // keep the image point under the cursor where it is: centre = p + (viewport centre - cursor) / new scale
      const k = p.g.scale * (next / z), { width, height } = live.current.img;
      setZoom(next, { x: (p.x + (r.width / 2 - (e.clientX - r.left)) / k) / width, y: (p.y + (r.height / 2 - (e.clientY - r.top)) / k) / height });
    };
    el.addEventListener('wheel', onWheel, { passive: false });
    return () => el.removeEventListener('wheel', onWheel);
  }, [store]); // eslint-disable-line react-hooks/exhaustive-deps -- imagePoint reads refs and the store

  const onPointerDown = (e: React.PointerEvent<HTMLDivElement>): void => {
    if (e.button !== 0 || (e.target as HTMLElement).closest('[data-no-pan]')) return;
    const s = store.getState(), start = { x: e.clientX, y: e.clientY, center: s.center, scale: imagePoint(e.clientX, e.clientY).g.scale };
    e.currentTarget.setPointerCapture(e.pointerId);
    const { width, height } = live.current.img;
    followPointer((ev) => store.getState().setCenter({ x: start.center.x - (ev.clientX - start.x) / start.scale / width, y: start.center.y - (ev.clientY - start.y) / start.scale / height }));
  };
  const onPointerMove = (e: React.PointerEvent<HTMLDivElement>): void => {
    const p = imagePoint(e.clientX, e.clientY);
    const x = Math.floor(p.x), y = Math.floor(p.y);
    const inside = x >= 0 && y >= 0 && x < img.width && y < img.height;
    const was = store.getState().inspect;
    if (!inside) return void (was && store.getState().setUi({ inspect: undefined }));
    if (was?.x !== x || was.y !== y) store.getState().setUi({ inspect: { x, y } });
  };

  return (
    <GeometryContext.Provider value={{ g, view }}>
      <div className="viewport" ref={ref} onPointerDown={onPointerDown} onPointerMove={onPointerMove} onPointerLeave={() => store.getState().setUi({ inspect: undefined })} onDoubleClick={() => store.getState().resetView()} data-testid="viewport">
        <div className="layer" style={{ transform: layerTransform(g, view, img, zoom) }}>{children}</div>
        {overlay}
        {highlight && <Mark r={highlight} className="mark-region" testId="highlight" />}
        {inspect && <Mark r={{ ...inspect, w: 1, h: 1 }} className="mark-pixel" testId="inspect-mark" />}
        {label && <span className="pane-label">{label}</span>}
      </div>
    </GeometryContext.Provider>
  );
}

/** The same transform as the viewport's layer, for stacking several layers (swipe). */
export function Layer({ children, style }: { children: ReactNode; style?: React.CSSProperties }) {
  const { g, view } = useContext(GeometryContext);
  const zoom = useStudio((s) => s.zoom);
  const img = useContext(ImageSize);
  return <div className="layer" style={{ transform: layerTransform(g, view, img, zoom), ...style }}>{children}</div>;
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
