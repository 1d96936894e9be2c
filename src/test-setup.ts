// Vitest setup: tfjs-core registers no gradient functions by itself (the union package would).
import { ensureGradients } from './backend/gradients.ts';

await ensureGradients();
