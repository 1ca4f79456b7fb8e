import { useState } from 'react';
import { Variant } from '../../app/variant';
import { variantDifference, type Side } from '../../app/studio';
import { useStudio } from '../store';
import { toVariant } from '../store/variants';
import { VariantEditor } from './variant-editor';

function DiffSummary() {
  const a = useStudio((s) => s.a);
  const b = useStudio((s) => s.b);
  const shared = useStudio((s) => s.sharedLoras);
  const pa = Variant.safeParse(toVariant(a, shared)), pb = Variant.safeParse(toVariant(b, shared));
  return <p className="diff-summary" data-testid="variant-diff">{pa.success && pb.success ? variantDifference(pa.data, pb.data) : 'fix the variant errors below'}</p>;
}

export function VariantsPanel() {
  const [side, setSide] = useState<Side>('B');
  const copy = useStudio((s) => s.copyAtoB);
  const labelA = useStudio((s) => s.a.label);
  const labelB = useStudio((s) => s.b.label);
  return (
    <div className="variants">
      <div className="variant-tabs" role="tablist">
        <button role="tab" aria-selected={side === 'A'} className={`tab side-a${side === 'A' ? ' active' : ''}`} onClick={() => setSide('A')} data-testid="tab-variant-A">A · {labelA}</button>
        <button role="tab" aria-selected={side === 'B'} className={`tab side-b${side === 'B' ? ' active' : ''}`} onClick={() => setSide('B')} data-testid="tab-variant-B">B · {labelB}</button>
        <button className="ghost" onClick={copy} title="make B a copy of A (keeps B's label)" data-testid="copy-a-to-b">Copy A → B</button>
      </div>
      <DiffSummary />
      <VariantEditor key={side} side={side} />
    </div>
  );
}
