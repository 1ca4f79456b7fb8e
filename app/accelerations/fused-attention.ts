import { z } from 'zod';
import { defineAcceleration } from './descriptor';

export const fusedAttention = defineAcceleration({
  id: 'fused-attention',
  description: "attention subgraphs rewritten into onnxruntime's fused MultiHeadAttention operator (the FlashAttention analogue)",
  options: { fusedAttention: z.boolean().default(false) },
  summary: (o) => (o.fusedAttention ? 'fused attention (MultiHeadAttention)' : ''),
  off: 'unfused attention',
  editor: { fields: [{ kind: 'checkbox', key: 'fusedAttention', label: 'Fused attention' }] },
  flags: [{ flags: '--fused-attention', help: "rewrite attention into onnxruntime's fused attention operator" }],
});
