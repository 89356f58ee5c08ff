import { describe, expect, it } from 'vitest';
import { renderCommand, runtimeTemplates } from './runtimes.ts';

describe('runtime templates', () => {
  it('fill the model dir, the replica socket and the name, quoted', () => {
    const command = renderCommand(runtimeTemplates('/repo')['aicloud-tiny']!, {
      modelDir: "/data/it's",
      socket: '/data/rep/replica.sock',
      name: 'm',
    });
    expect(command).toContain("--model '/data/it'\\''s' --socket '/data/rep/replica.sock' --name 'm'");
  });

  it('refuse a template that still listens on {port}, saying what replaces it', () => {
    expect(() =>
      renderCommand(
        { name: 'site', command: 'serve --port {port} {model_dir}', runsHere: true, healthPath: '/health' },
        { modelDir: '/m', socket: '/s.sock', name: 'm' },
      ),
    ).toThrow(/runtime site uses \{port\}: replicas listen on the unix socket \{socket\}/);
  });
});
