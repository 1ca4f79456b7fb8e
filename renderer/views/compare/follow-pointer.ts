/** Calls `onMove` for every pointer move until the pointer is released (drags that may leave the element). */
export function followPointer(onMove: (ev: PointerEvent) => void): void {
  const up = (): void => {
    window.removeEventListener('pointermove', onMove);
    window.removeEventListener('pointerup', up);
  };
  window.addEventListener('pointermove', onMove);
  window.addEventListener('pointerup', up);
}
