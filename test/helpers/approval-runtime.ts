/** A LocalRuntime whose approvals are decided through links served on 127.0.0.1, as a person would. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ApprovalLinks } from '@stepline/core';
import { handleApprovalRoute, LocalRuntime } from '@stepline/local';

export interface LinkRuntime {
  runtime: LocalRuntime;
  /** The links of the first approval announced, once there is one. */
  links(): Promise<ApprovalLinks>;
  close(): Promise<void>;
}

export function linkRuntime(project: string): LinkRuntime {
  let server: Server | undefined;
  let announced: ApprovalLinks | undefined;
  const runtime: LocalRuntime = new LocalRuntime({
    project,
    approval: {
      mode: 'link',
      baseUrl: () =>
        new Promise((resolve) => {
          server = createServer((req, res) => void handleApprovalRoute(req, res, runtime.approvals));
          server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server?.address() as AddressInfo | null)?.port ?? 0}`));
        }),
      announce: (_approval, links) => {
        announced ??= links;
      },
    },
  });
  return {
    runtime,
    links: async () => {
      for (let i = 0; i < 300 && !announced; i++) await new Promise((r) => setTimeout(r, 50));
      if (!announced) throw new Error('no approval link was announced');
      return announced;
    },
    close: async () => {
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
      await runtime.close();
    },
  };
}
