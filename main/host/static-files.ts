import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, resolve, sep } from 'node:path';

/** The renderer's CSP, shared by serve mode (HTTP header) and Electron (protocol handler). */
export function contentSecurityPolicy(connect: string[] = []): string {
  return [
    "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data: blob:", "font-src 'self'",
    `connect-src 'self' ${connect.join(' ')}`.trim(), "worker-src 'self'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.svg': 'image/svg+xml',
  '.png': 'image/png', '.json': 'application/json', '.ico': 'image/x-icon', '.woff2': 'font/woff2', '.map': 'application/json',
};

/**
 * A file of the built renderer by URL path, or undefined: nothing outside `root` is ever read
 * (the resolved path must stay under it, dot-files and unknown types are refused).
 */
export function staticFile(root: string, urlPath: string): { body: Buffer; type: string } | undefined {
  let rel: string;
  try {
    rel = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  if (rel.includes('\0') || /(^|[\\/])\./.test(rel)) return undefined;
  const base = resolve(root);
  const path = resolve(base, `.${rel}`);
  if (!path.startsWith(base + sep)) return undefined;
  const type = MIME[extname(path)];
  if (!type || !existsSync(path) || !statSync(path).isFile()) return undefined;
  return { body: readFileSync(path), type };
}
