import { useEffect, useState } from 'react';
import { useStudio } from '../store';

type Tokens = { count: number; max: number; dropped: string };

/** A prompt's CLIP token count (as A1111 shows it), counted by the host's tokenizer of the model; what is dropped past the limit. */
export function PromptTokens({ text, what, empty }: { text: string; what: string; empty?: string }) {
  const client = useStudio((s) => s.client);
  const model = useStudio((s) => s.modelDir);
  const [t, setT] = useState<Tokens>();
  useEffect(() => {
    if (!model) return;
    let live = true;
    const timer = setTimeout(() => void client.call('prompt.tokens', { model, text }).then((r) => live && setT(r), () => live && setT(undefined)), 200);
    return () => {
      live = false;
      clearTimeout(timer);
    };
  }, [client, model, text]);
  if (!text.trim()) return empty ? <span className="note warn" data-testid={`${what}-empty`}>{empty}</span> : null;
  if (!t) return null;
  // start and end tokens are the model's, not the user's: count what the user wrote, as A1111 does
  const used = t.count - 2, room = t.max - 2;
  return (
    <>
      <span className={`token-count${used > room ? ' over' : ''}`} data-testid={`${what}-tokens`}>{used}/{room} tokens</span>
      {t.dropped && <span className="note warn" data-testid={`${what}-dropped`}>Over {room} tokens: “{t.dropped.length > 120 ? `${t.dropped.slice(0, 70)} … ${t.dropped.slice(-40)}` : t.dropped}” is dropped (the text encoder reads {room}).</span>}
    </>
  );
}
