import { COLORMAPS, type Colormap } from '../../../app/metrics';
import { useStudio, useStudioStore } from '../../store';
import type { CompareView, CompareViewProps } from './types';
import { PixelCanvas, Viewport } from './viewport';

export function HeatControls({ showGain }: { showGain: boolean }) {
  const store = useStudioStore();
  const gain = useStudio((s) => s.gain);
  const colormap = useStudio((s) => s.colormap);
  return (
    <div className="heat-controls" data-no-pan>
      <select value={colormap} onChange={(e) => store.getState().setUi({ colormap: e.target.value as Colormap })} aria-label="colormap">
        {COLORMAPS.map((c) => <option key={c}>{c}</option>)}
      </select>
      {showGain && (
        <label>
          gain ×{gain}
          <input type="range" min={0} max={6} step={1} value={Math.log2(gain)} onChange={(e) => store.getState().setUi({ gain: 2 ** Number(e.target.value) })} aria-label="gain" />
        </label>
      )}
    </div>
  );
}

function Difference({ metrics }: CompareViewProps) {
  return (
    <div className="panes one">
      <Viewport label={metrics ? `|A − B| · max ${(metrics.maxDiff * 100).toFixed(1)}%` : 'computing…'} overlay={<HeatControls showGain />}>
        {metrics && <PixelCanvas width={metrics.width} height={metrics.height} rgba={metrics.diff} label="difference heatmap" />}
      </Viewport>
    </div>
  );
}

export const difference: CompareView = { id: 'difference', label: 'Difference', Component: Difference };
