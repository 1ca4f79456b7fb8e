import type { CompareView } from './types';
import { Viewport } from './viewport';

export const sideBySide: CompareView = {
  id: 'side-by-side',
  label: 'Side by side',
  Component: ({ a, b, labelA, labelB }) => (
    <div className="panes two">
      <Viewport label={labelA}><img className="fit" src={a} alt="A" draggable={false} /></Viewport>
      <Viewport label={labelB}><img className="fit" src={b} alt="B" draggable={false} /></Viewport>
    </div>
  ),
};
