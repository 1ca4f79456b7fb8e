import type { GridSection } from '../../app/grid';
import { useStudio } from '../store';

/** A grid's or matrix's cell actions: compare its image with the reference's, put its options on B. */
export function useCellActions(g: GridSection | undefined): { open(i: number): void; apply(i: number): void } {
  const openPair = useStudio((s) => s.openPair);
  const applyVariant = useStudio((s) => s.applyVariant);
  return {
    open: (i) => {
      const ref = g?.cells[g.reference], c = g?.cells[i];
      if (!ref?.image || !ref.variant || !c?.image || !c.variant) return;
      openPair({ file: ref.image, label: `reference: ${ref.label}`, variant: ref.variant }, { file: c.image, label: c.label, variant: c.variant });
    },
    apply: (i) => {
      const c = g?.cells[i];
      if (c?.variant) applyVariant('B', c.variant, c.label);
    },
  };
}
