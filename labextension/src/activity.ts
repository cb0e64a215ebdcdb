/**
 * Learning time for Jupyter LMS: tell the student's server which notebook is in use.
 *
 * The lab server (`lms_extension/labserver/progress.py`) counts time spent from these pings
 * only: each `POST <baseUrl>lms/activity {"path": <notebook path>}` gives the time since the
 * previous ping (at most one ping interval) to the notebook that previous ping named, so one
 * notebook counts at a time and idle time never counts. This module pings:
 *
 * - every `pingSeconds`, with the path of the notebook in the main area's current tab
 *   ("" when the current tab is not a notebook), but only while
 *   `document.visibilityState === 'visible'` and the student gave input (keyboard, pointer,
 *   wheel, touch) within the last `idleSeconds` (the LMS's `LMS_IDLE_SECONDS`);
 * - at once when the current tab changes (the time before the switch goes to the notebook left);
 * - with "" when the page is hidden (the time until then goes to the notebook in use).
 *
 * Usage, in the plugin's `activate(app, tracker)`:
 *
 *     import { startActivityTracking } from './activity';
 *     const tracking = startActivityTracking(app, tracker);  // settings asked from the server
 *     // tracking.dispose() stops it
 *
 * `settings` may give `pingSeconds` and `idleSeconds` (both, else the server's answer to
 * `GET lms/activity` is used: `{"ping_seconds", "idle_seconds"}`) and `serverSettings`.
 */
import { JupyterFrontEnd } from '@jupyterlab/application';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ServerConnection } from '@jupyterlab/services';
import { IDisposable } from '@lumino/disposable';

export interface IActivitySettings {
  /** Seconds between two pings (the lab server's `ping_seconds`). */
  pingSeconds?: number;
  /** No ping once the student gave no input for this long (`LMS_IDLE_SECONDS`). */
  idleSeconds?: number;
  /** The Jupyter server to ping; default `ServerConnection.makeSettings()`. */
  serverSettings?: ServerConnection.ISettings;
}

const INPUT_EVENTS = ['keydown', 'pointerdown', 'pointermove', 'wheel', 'touchstart'];

/** A positive number of seconds, else 0 (tracking stays off). */
function seconds(value: unknown): number {
  const n = Number(value);
  return Number.isFinite(n) && n > 0 ? n : 0;
}

export function startActivityTracking(
  app: JupyterFrontEnd,
  notebookTracker: INotebookTracker,
  settings: IActivitySettings = {}
): IDisposable {
  const server = settings.serverSettings ?? ServerConnection.makeSettings();
  const url = URLExt.join(server.baseUrl, 'lms', 'activity');
  let pingSeconds = seconds(settings.pingSeconds);
  let idleSeconds = seconds(settings.idleSeconds);
  let lastInput = Date.now(); // opening the page is input
  let timer: number | null = null;
  let disposed = false;

  const onInput = (): void => {
    lastInput = Date.now();
  };

  /** The notebook in the main area's current tab, "" for anything else. */
  const currentPath = (): string => {
    const widget = app.shell.currentWidget;
    const panel = notebookTracker.find(nb => nb === widget);
    return panel ? panel.context.path : '';
  };

  const active = (): boolean =>
    document.visibilityState === 'visible' && Date.now() - lastInput <= idleSeconds * 1000;

  const send = (path: string): void => {
    const init = { method: 'POST', body: JSON.stringify({ path }) };
    ServerConnection.makeRequest(url, init, server).catch(() => {
      /* the server restarting or unreachable: the next ping tries again */
    });
  };

  const tick = (): void => {
    if (!disposed && active()) {
      send(currentPath());
    }
  };

  const onTabChanged = (): void => {
    tick();
  };

  const onVisibility = (): void => {
    if (document.visibilityState === 'visible') {
      onInput();
      tick();
    } else if (!disposed) {
      send(''); // the time until now goes to the notebook in use; nothing after
    }
  };

  const start = (): void => {
    if (disposed || pingSeconds <= 0 || idleSeconds <= 0) {
      return;
    }
    for (const name of INPUT_EVENTS) {
      document.addEventListener(name, onInput, { capture: true, passive: true });
    }
    document.addEventListener('visibilitychange', onVisibility);
    app.shell.currentChanged?.connect(onTabChanged);
    timer = window.setInterval(tick, pingSeconds * 1000);
    tick();
  };

  if (pingSeconds > 0 && idleSeconds > 0) {
    start();
  } else {
    ServerConnection.makeRequest(url, { method: 'GET' }, server)
      .then(response => (response.ok ? response.json() : null))
      .then(body => {
        if (body) {
          pingSeconds = pingSeconds || seconds(body.ping_seconds);
          idleSeconds = idleSeconds || seconds(body.idle_seconds);
          start();
        }
      })
      .catch(() => {
        /* no lms_extension on this server: no learning time to count */
      });
  }

  return {
    get isDisposed(): boolean {
      return disposed;
    },
    dispose(): void {
      if (disposed) {
        return;
      }
      disposed = true;
      if (timer !== null) {
        window.clearInterval(timer);
      }
      for (const name of INPUT_EVENTS) {
        document.removeEventListener(name, onInput, { capture: true });
      }
      document.removeEventListener('visibilitychange', onVisibility);
      app.shell.currentChanged?.disconnect(onTabChanged);
    }
  };
}
