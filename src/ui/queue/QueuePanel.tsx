// The experiment queue on the page (issue 6). Placeholder until the queue lands.
export function QueuePanel() {
  return null;
}
