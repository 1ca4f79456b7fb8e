import type { CompareView, CompareViewProps } from './types';
import { HeatControls } from './difference';
import { PixelCanvas, Viewport } from './viewport';

function SsimMap({ metrics }: CompareViewProps) {
  return (
    <div className="panes one">
      <Viewport label={metrics ? `1 − SSIM map · mean SSIM ${metrics.ssim.toFixed(4)}` : 'computing…'} overlay={<HeatControls showGain={false} />}>
        {metrics && <PixelCanvas width={metrics.width} height={metrics.height} rgba={metrics.ssimMap} label="ssim map" />}
      </Viewport>
    </div>
  );
}

export const ssimView: CompareView = { id: 'ssim', label: 'SSIM map', Component: SsimMap };
