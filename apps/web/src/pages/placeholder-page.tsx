/** An area of the portal that is not built yet. */
export function PlaceholderPage({ title, known }: { title: string; known: boolean }) {
  return (
    <section>
      <h1>{title}</h1>
      <p className="muted">
        {known
          ? 'This area arrives in a later release; the CLI may already offer it (aicloud --help).'
          : 'There is no such page.'}
      </p>
    </section>
  );
}
