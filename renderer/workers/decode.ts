/** A data: URL's pixels as RGBA (worker or window: atob, createImageBitmap, OffscreenCanvas; no fetch of data:, which the CSP refuses). */
export async function decodeDataUrl(dataUrl: string): Promise<ImageData> {
  const [head, b64 = ''] = dataUrl.split(',', 2);
  const bin = atob(b64);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const bitmap = await createImageBitmap(new Blob([bytes], { type: head?.slice(5).split(';')[0] || 'image/png' }));
  const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
  const ctx = canvas.getContext('2d')!;
  ctx.drawImage(bitmap, 0, 0);
  return ctx.getImageData(0, 0, bitmap.width, bitmap.height);
}
