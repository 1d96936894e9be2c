// The Compare view (issue 6). Placeholder until it lands.
export function ComparePanel() {
  return null;
}
