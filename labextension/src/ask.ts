/**
 * "Ask about this cell": from a lesson notebook's cell (context menu, notebook toolbar, command
 * palette), a dialog prefilled with the cell's code and output, its traceback, the failing public
 * tests and the lesson version, and questions with the same error while the title is typed.
 * The lab server (lms_extension/labserver/ask.py) asks the LMS, which cleans every field against
 * the instructor's version (hidden tests and solutions never get in) and makes the thread.
 */
import {
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { Dialog, ICommandPalette, showDialog } from '@jupyterlab/apputils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  INotebookTracker,
  NotebookPanel
} from '@jupyterlab/notebook';
import { ToolbarButton } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { el, LMSRefusal, lmsRequest } from './common';

const ASK = 'lms:ask-cell';
const TYPING_MS = 350;

interface ISimilar {
  id: number;
  title: string;
  url: string;
  same_error: boolean;
  endorsed: boolean;
  accepted: boolean;
  staff_answered: boolean;
  replies: number;
}

interface IDraft {
  lesson: string;
  lesson_title: string;
  version: number;
  cell_id: string;
  code: string;
  output: string;
  traceback: string;
  exception: string;
  failing_tests: string[];
  signature: string;
  redacted_lines: number;
  title: string;
  body: string;
  similar: ISimilar[];
}

interface ICellData {
  path: string;
  cell_id: string;
  code: string;
  context: string;
  output: string;
  traceback: string;
  exception: string;
}

function isLessonPath(path: string): boolean {
  return /^courses\/[a-z0-9][a-z0-9-]*\/[^/]+\.ipynb$/.test(path);
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

function text(value: unknown): string {
  return Array.isArray(value) ? value.join('') : typeof value === 'string' ? value : '';
}

/** The active cell of a lesson notebook: its id, source, text outputs and error. */
function cellData(panel: NotebookPanel): ICellData | null {
  const cell = panel.content.activeCell;
  if (!cell) {
    return null;
  }
  const model = cell.model;
  // the code cells above it, as the student has them: what staff need to reproduce it
  const above: string[] = [];
  const cells = panel.content.model?.cells;
  for (let i = 0; cells && i < panel.content.activeCellIndex; i++) {
    const other = cells.get(i);
    if (other.type === 'code' && other.sharedModel.getSource().trim()) {
      above.push(other.sharedModel.getSource());
    }
  }
  const data: ICellData = {
    path: panel.context.path,
    cell_id: model.id,
    code: model.sharedModel.getSource(),
    context: above.join('\n\n'),
    output: '',
    traceback: '',
    exception: ''
  };
  const outputs = (model.toJSON() as any).outputs;
  for (const out of Array.isArray(outputs) ? outputs : []) {
    if (out.output_type === 'stream') {
      data.output += text(out.text);
    } else if (out.output_type === 'error') {
      data.exception = typeof out.ename === 'string' ? out.ename : '';
      data.traceback = (Array.isArray(out.traceback) ? out.traceback : [])
        .join('\n')
        .replace(ANSI, '');
    } else if (out.data && out.data['text/plain'] !== undefined) {
      data.output += text(out.data['text/plain']) + '\n';
    }
  }
  return data;
}

/** The dialog's form: title (with similar questions), kind, Markdown body, anonymous. */
class AskForm extends Widget {
  readonly title_: HTMLInputElement;
  readonly kind: HTMLSelectElement;
  readonly body: HTMLTextAreaElement;
  readonly anonymous: HTMLInputElement;
  private similarList: HTMLElement;
  private timer = 0;

  constructor(
    private draft: IDraft,
    private path: string,
    error: string | null
  ) {
    super();
    this.addClass('jp-LMS-ask');
    this.title_ = el('input', {
      type: 'text',
      class: 'jp-mod-styled jp-LMS-ask-title',
      maxlength: '200',
      'aria-label': 'Title'
    });
    this.title_.value = draft.title;
    this.kind = el(
      'select',
      { class: 'jp-mod-styled jp-LMS-ask-kind', 'aria-label': 'Kind' },
      el('option', { value: 'question' }, 'Question'),
      el('option', { value: 'discussion' }, 'Discussion')
    );
    this.body = el('textarea', {
      class: 'jp-mod-styled jp-LMS-ask-body',
      rows: '12',
      'aria-label': 'Your question (Markdown)'
    });
    this.body.value = draft.body;
    this.anonymous = el('input', {
      type: 'checkbox',
      class: 'jp-LMS-ask-anonymous'
    });
    this.similarList = el('ul', { class: 'jp-LMS-ask-similar-list' });
    const about = el(
      'p',
      { class: 'jp-LMS-ask-about' },
      `${draft.lesson_title}, version ${draft.version}, cell ${draft.cell_id}`,
      draft.exception ? ` · ${draft.exception}` : ''
    );
    const failing = draft.failing_tests.length
      ? el(
          'p',
          { class: 'jp-LMS-ask-failing' },
          'Failing tests: ',
          draft.failing_tests.join(', ')
        )
      : null;
    const redacted = draft.redacted_lines
      ? el(
          'p',
          { class: 'jp-LMS-notice jp-LMS-warn jp-LMS-ask-redacted' },
          `${draft.redacted_lines} line${draft.redacted_lines === 1 ? '' : 's'} quoting hidden tests or solutions ${draft.redacted_lines === 1 ? 'was' : 'were'} left out.`
        )
      : null;
    this.node.append(
      error ? el('p', { class: 'jp-LMS-notice jp-LMS-error', role: 'alert' }, error) : '',
      about,
      failing ?? '',
      redacted ?? '',
      el('label', {}, 'Title', this.title_),
      el(
        'div',
        { class: 'jp-LMS-ask-similar' },
        el('p', { class: 'jp-LMS-ask-similar-head' }, 'Questions with the same error'),
        this.similarList
      ),
      el('label', {}, 'Kind', this.kind),
      el('label', {}, 'Your question (Markdown; code in ``` blocks)', this.body),
      el(
        'label',
        { class: 'jp-LMS-ask-check' },
        this.anonymous,
        ' Anonymous to classmates (the course staff can see who asked)'
      )
    );
    this.showSimilar(draft.similar);
    this.title_.addEventListener('input', () => {
      window.clearTimeout(this.timer);
      this.timer = window.setTimeout(() => void this.lookup(), TYPING_MS);
    });
  }

  private async lookup(): Promise<void> {
    const params = new URLSearchParams({
      path: this.path,
      signature: this.draft.signature,
      q: this.title_.value
    });
    try {
      const found = await lmsRequest<{ threads: ISimilar[] }>(
        `lms/api/ask/similar?${params.toString()}`
      );
      this.showSimilar(found.threads);
    } catch {
      // suggestions are a help, not a step: the question can be asked without them
    }
  }

  private showSimilar(threads: ISimilar[]): void {
    this.similarList.replaceChildren(
      ...threads.map(t =>
        el(
          'li',
          { class: t.same_error ? 'jp-LMS-same-error' : '' },
          el('a', { href: t.url, target: '_blank', rel: 'noopener' }, t.title),
          t.endorsed ? el('span', { class: 'jp-LMS-badge jp-LMS-endorsed' }, 'endorsed answer') : '',
          t.accepted ? el('span', { class: 'jp-LMS-badge' }, 'answered') : '',
          t.same_error ? '' : el('span', { class: 'jp-LMS-badge jp-LMS-muted' }, 'same words')
        )
      )
    );
    if (!threads.length) {
      this.similarList.append(
        el('li', { class: 'jp-LMS-muted' }, 'None yet: yours will be the first.')
      );
    }
  }

  values(): Record<string, unknown> {
    return {
      title: this.title_.value,
      kind: this.kind.value,
      body: this.body.value,
      anonymous: this.anonymous.checked
    };
  }
}

async function ask(panel: NotebookPanel): Promise<void> {
  const data = cellData(panel);
  if (!data) {
    return;
  }
  let draft: IDraft;
  try {
    draft = await lmsRequest<IDraft>('lms/api/ask/draft', {
      method: 'POST',
      body: JSON.stringify(data)
    });
  } catch (error) {
    await showDialog({
      title: 'Ask about this cell',
      body: `The question cannot be prepared: ${(error as LMSRefusal).message}`,
      buttons: [Dialog.okButton()]
    });
    return;
  }
  let error: string | null = null;
  for (;;) {
    const form = new AskForm(draft, data.path, error);
    const result = await showDialog({
      title: 'Ask about this cell',
      body: form,
      buttons: [
        Dialog.cancelButton(),
        Dialog.okButton({ label: 'Post question', className: 'jp-LMS-ask-post' })
      ],
      focusNodeSelector: '.jp-LMS-ask-title'
    });
    if (!result.button.accept) {
      return;
    }
    const values = form.values();
    draft = { ...draft, title: String(values.title), body: String(values.body) };
    try {
      const posted = await lmsRequest<{ id: number; url: string; redacted_lines: number }>(
        'lms/api/ask',
        { method: 'POST', body: JSON.stringify({ ...data, ...values }) }
      );
      const link = el(
        'a',
        { href: posted.url, target: '_blank', rel: 'noopener', class: 'jp-LMS-ask-link' },
        'Open your question'
      );
      await showDialog({
        title: 'Question posted',
        body: new Widget({
          node: el(
            'div',
            { class: 'jp-LMS-ask-done' },
            el('p', {}, 'Your question is in the course Q&A. You will be told when someone answers. '),
            link
          )
        }),
        buttons: [Dialog.okButton({ label: 'Close' })]
      });
      return;
    } catch (failure) {
      error = `Not posted: ${(failure as LMSRefusal).message}`;
    }
  }
}

class AskButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    if (!isLessonPath(panel.context.path)) {
      return new DisposableDelegate(() => undefined);
    }
    const button = new ToolbarButton({
      className: 'jp-LMS-ask-toolbar',
      label: 'Ask',
      tooltip: 'Ask the course about the selected cell',
      onClick: () => {
        void this.app.commands.execute(ASK);
      }
    });
    panel.toolbar.insertItem(11, 'lmsAsk', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

export const askPlugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyter-lms/lms-course:ask',
  description: 'Ask about this cell: a question to the course Q&A from a lesson notebook cell.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null
  ) => {
    app.commands.addCommand(ASK, {
      label: 'Ask about this cell',
      caption: 'Ask the course Q&A about the selected cell of this lesson',
      isEnabled: () =>
        !!tracker.currentWidget &&
        isLessonPath(tracker.currentWidget.context.path) &&
        !!tracker.activeCell,
      execute: () => {
        const panel = tracker.currentWidget;
        return panel ? ask(panel) : undefined;
      }
    });
    app.contextMenu.addItem({
      command: ASK,
      selector: '.jp-Notebook .jp-Cell',
      rank: 0
    });
    if (palette) {
      palette.addItem({ command: ASK, category: 'Course' });
    }
    app.docRegistry.addWidgetExtension('Notebook', new AskButtonExtension(app));
  }
};
