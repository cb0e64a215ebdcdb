/**
 * What the Course sidebar (index.ts) and the Teach panel (instructor.ts) share: requests to the
 * lab server with their refusals, and DOM building without HTML parsing.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

/** A refusal of the lab server, with what the student needs to know. */
export class LMSRefusal extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly retryAfter: number | null
  ) {
    super(message);
  }
}

export async function lmsRequest<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new LMSRefusal(
      0,
      'Your Jupyter server cannot be reached. Check your connection and try again.',
      null
    );
  }
  let body: any = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message =
      body && typeof body.message === 'string'
        ? body.message
        : `The request failed (${response.status}).`;
    const retry =
      body && typeof body.retry_after_seconds === 'number'
        ? body.retry_after_seconds
        : null;
    throw new LMSRefusal(response.status, message, retry);
  }
  return body as T;
}

/** An element with attributes and children (text is never parsed as HTML). */
export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string | null)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    node.setAttribute(key, value);
  }
  for (const child of children) {
    if (child !== null) {
      node.append(child);
    }
  }
  return node;
}

export function points(value: number | null | undefined): string {
  return value === null || value === undefined
    ? '–'
    : `${Math.round(value * 100) / 100}`;
}
