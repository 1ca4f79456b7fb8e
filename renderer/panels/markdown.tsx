import { Marked } from 'marked';

// raw HTML inside the markdown is shown as text, never parsed into the page
const md = new Marked({ gfm: true, renderer: { html: ({ text }) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;') } });

/** A markdown document (the embedded model's LICENSES.md) rendered with marked. */
export function Markdown({ text, className }: { text: string; className?: string }) {
  return <div className={className} dangerouslySetInnerHTML={{ __html: md.parse(text, { async: false }) }} />;
}
