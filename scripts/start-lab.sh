#!/bin/sh
# `npm start`: fetches CIFAR-10 into public/data when it is not there yet (`npm run data`), then starts
# the lab's dev server (Vite, with the cross-origin-isolation headers). If the data cannot be fetched,
# the lab still starts and trains on its demo sample; pass extra Vite flags after `--`.
set -eu
if [ ! -f public/data/cifar-10-batches-bin/test_batch.bin ]; then
  echo "npm start: public/data has no CIFAR-10 yet; fetching it (npm run data)" >&2
  npm run data || echo "npm start: could not fetch CIFAR-10; the lab will use its demo sample (run \`npm run data\` later)" >&2
fi
exec npx vite "$@"
