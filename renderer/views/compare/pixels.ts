import { useEffect, useState } from 'react';
import { decodeDataUrl } from '../../workers/decode';

const cache = new Map<string, Promise<ImageData>>();

/** A data: URL's pixels on the UI thread, for reading single values (the pixel inspector); a few kept. */
function decode(url: string): Promise<ImageData> {
  let p = cache.get(url);
  if (!p) {
    if (cache.size > 8) cache.clear();
    p = decodeDataUrl(url);
    cache.set(url, p);
  }
  return p;
}

export function usePixels(url: string | undefined): ImageData | undefined {
  const [data, setData] = useState<ImageData>();
  useEffect(() => {
    if (!url) return setData(undefined);
    let live = true;
    decode(url).then((d) => live && setData(d), () => live && setData(undefined));
    return () => {
      live = false;
    };
  }, [url]);
  return data;
}

export const rgbAt = (d: ImageData, x: number, y: number): [number, number, number] => {
  const i = (y * d.width + x) * 4;
  return [d.data[i]!, d.data[i + 1]!, d.data[i + 2]!];
};
