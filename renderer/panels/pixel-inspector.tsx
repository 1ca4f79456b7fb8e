import { useStudio } from '../store';
import { rgbAt, usePixels } from '../views/compare/pixels';

const rgb = (c: number[]): string => c.map((v) => String(v).padStart(3, '\u2007')).join(' ');

/** A's and B's RGB under the pointer and their difference (B − A), at the image pixel every view marks. */
export function PixelInspector({ a, b }: { a: string; b: string }) {
  const at = useStudio((s) => s.inspect);
  const pa = usePixels(a), pb = usePixels(b);
  if (!at || !pa || !pb || at.x >= pa.width || at.y >= pa.height) {
    return <p className="inspector hint" data-testid="inspector">point at an image to read A's and B's pixel values</p>;
  }
  const ca = rgbAt(pa, at.x, at.y), cb = rgbAt(pb, at.x, at.y);
  const d = cb.map((v, i) => v - ca[i]!);
  return (
    <p className="inspector" data-testid="inspector">
      <span>x {at.x} y {at.y}</span>
      <span><b className="side-a">A</b> <span className="swatch" style={{ background: `rgb(${ca.join(',')})` }} /> <span data-testid="inspect-a">{rgb(ca)}</span></span>
      <span><b className="side-b">B</b> <span className="swatch" style={{ background: `rgb(${cb.join(',')})` }} /> <span data-testid="inspect-b">{rgb(cb)}</span></span>
      <span>B − A <span data-testid="inspect-diff">{d.map((v) => (v > 0 ? `+${v}` : String(v))).join(' ')}</span></span>
    </p>
  );
}
