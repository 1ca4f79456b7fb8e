import { blink } from './blink';
import { difference } from './difference';
import { scrubber } from './scrubber';
import { sideBySide } from './side-by-side';
import { ssimView } from './ssim';
import { swipe } from './swipe';
import type { CompareView } from './types';

/** Every compare view, in tab order; one line each. */
export const COMPARE_VIEWS: CompareView[] = [
  sideBySide,
  swipe,
  blink,
  difference,
  ssimView,
  scrubber,
];
