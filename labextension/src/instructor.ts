/**
 * The instructor's Teach panel: course sources in ~/teach/<course>/ (course.toml, nbgrader
 * source notebooks, challenge files), Validate (the real grader on the solutions, each
 * challenge's reference solution in every language), Preview as student (the release version,
 * read-only, in a new tab) and Publish (the LMS makes the student version). Shown only when the
 * lab server's /lms/api/teach/status says this user authors courses (lms_extension/labserver/teach.py).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { URLExt } from '@jupyterlab/coreutils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { el, lmsRequest, points } from './common';

const SHOW = 'lms:show-teach';
const CREATE_ASSIGNMENT = 'nbgrader:open-create-assignment';

const teachIcon = new LabIcon({
  name: 'lms:teach',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
    'd="M3 3h18v12H3zm2 2v8h14V5zm3 12h8v2h3v2H5v-2h3z"/></svg>'
});

interface ILessonRow {
  id: string;
  title: string;
  path: string;
}

interface IFolder {
  folder: string;
  path: string;
  slug: string | null;
  title: string;
  lessons: ILessonRow[];
  error: string | null;
}

interface IStatus {
  instructor: boolean;
  admin: boolean;
  courses: { slug: string; title: string }[];
  teach_dir: string;
  folders: IFolder[];
}

interface IFailingCell {
  title: string;
  grade_id: string;
  status: string;
  message: string;
  points: number | null;
  max_points: number;
}

interface IReport {
  course: string;
  title: string;
  ok: boolean;
  notebooks: {
    notebook: string;
    lesson: string | null;
    lesson_title: string | null;
    path: string;
    ok: boolean;
    error: string | null;
    score: number | null;
    max_score: number | null;
    failing: IFailingCell[];
  }[];
  challenges: {
    file: string;
    title: string;
    ok: boolean;
    error: string | null;
    languages: {
      language: string;
      name: string;
      ok: boolean;
      message: string | null;
      failing: { test: number; hidden: boolean; status: string }[];
    }[];
  }[];
}

/** POST (with a body) or GET one of the lab server's /lms/api/teach/ endpoints. */
function teachRequest<T>(path: string, body?: unknown): Promise<T> {
  return lmsRequest<T>(
    URLExt.join('lms/api/teach', path),
    body === undefined ? {} : { method: 'POST', body: JSON.stringify(body) }
  );
}

/** What the LMS answered to a publish, in a sentence. */
function publishedText(answer: any, folder: IFolder): string {
  const made: { lesson: string; version: number }[] =
    answer?.published?.new_versions ?? [];
  const challenges: { challenge: string; state: string }[] = (
    answer?.published?.challenges ?? []
  ).filter((row: { state: string }) => row.state !== 'unchanged');
  const changed = challenges.length
    ? ` Challenges new or changed: ${challenges.map(row => row.challenge).join(', ')}.`
    : '';
  if (!made.length) {
    return `Published ${folder.title}: no lesson changed, students keep the versions they have.${changed}`;
  }
  const titles = new Map(folder.lessons.map(row => [row.id, row.title]));
  const list = made
    .map(row => `${titles.get(row.lesson) ?? row.lesson} (version ${row.version})`)
    .join(', ');
  return `Published ${folder.title}. New for students: ${list}.${changed}`;
}

class TeachPanel extends Widget {
  private status: IStatus | null = null;
  private notice: { kind: 'info' | 'warn' | 'error'; text: string } | null =
    null;
  private report: IReport | null = null;
  private busy: string | null = null;

  constructor(
    private app: JupyterFrontEnd,
    private tracker: INotebookTracker | null
  ) {
    super();
    this.id = 'lms-teach-panel';
    this.addClass('jp-LMS-panel');
    this.addClass('jp-LMS-teach');
    this.title.icon = teachIcon;
    this.title.caption = 'Teach';
    this.node.setAttribute('aria-label', 'Teach');
    this.render();
  }

  /** Shown again: the folders in ~/teach may have changed meanwhile. */
  protected onAfterShow(): void {
    if (!this.busy) {
      void this.refresh();
    }
  }

  setStatus(status: IStatus): void {
    this.status = status;
    this.render();
  }

  async refresh(): Promise<void> {
    try {
      this.status = await teachRequest<IStatus>('status');
    } catch (error) {
      this.notice = {
        kind: 'error',
        text: `Your courses cannot be listed right now: ${(error as Error).message}`
      };
    }
    this.render();
  }

  private async act(
    label: string,
    work: () => Promise<void>
  ): Promise<void> {
    if (this.busy) {
      return;
    }
    this.busy = label;
    this.notice = { kind: 'info', text: `${label}…` };
    this.render();
    try {
      await work();
    } catch (error) {
      this.notice = { kind: 'error', text: `${label} failed: ${(error as Error).message}` };
    } finally {
      this.busy = null;
      this.render();
    }
  }

  /** The course's notebooks open with unsaved edits are saved first: the server reads the files. */
  private async saveOpen(folder: IFolder): Promise<void> {
    const saves: Promise<void>[] = [];
    this.tracker?.forEach(notebook => {
      const context = notebook.context;
      if (
        context.path.startsWith(`${folder.path}/`) &&
        context.model.dirty &&
        !context.model.readOnly
      ) {
        saves.push(context.save());
      }
    });
    await Promise.all(saves);
  }

  private validate(folder: IFolder): Promise<void> {
    return this.act(`Validating ${folder.title}`, async () => {
      this.report = null;
      await this.saveOpen(folder);
      const report = await teachRequest<IReport>('validate', {
        course: folder.folder
      });
      this.report = report;
      this.notice = report.ok
        ? {
            kind: 'info',
            text: `${report.title}: every test passes with the solutions, and every reference solution passes.`
          }
        : {
            kind: 'warn',
            text: `${report.title}: some checks fail. Fix them before you publish.`
          };
    });
  }

  private preview(folder: IFolder, lesson: ILessonRow): Promise<void> {
    return this.act(`Making the student version of ${lesson.title}`, async () => {
      await this.saveOpen(folder);
      const answer = await teachRequest<{ path: string }>('preview', {
        course: folder.folder,
        lesson: lesson.id
      });
      await this.app.commands.execute('docmanager:open', {
        path: answer.path,
        factory: 'Notebook'
      });
      this.notice = {
        kind: 'info',
        text: `${lesson.title} as a student gets it (read-only): solutions and hidden tests removed.`
      };
    });
  }

  private publish(folder: IFolder): Promise<void> {
    return this.act(`Publishing ${folder.title}`, async () => {
      await this.saveOpen(folder);
      const answer = await teachRequest<any>('publish', { course: folder.folder });
      this.notice = { kind: 'info', text: publishedText(answer, folder) };
    });
  }

  private newLesson(folder: IFolder, form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    return this.act('Adding the lesson', async () => {
      const answer = await teachRequest<{ path: string }>('new-lesson', {
        course: folder.folder,
        lesson: String(data.get('lesson') ?? '').trim(),
        title: String(data.get('title') ?? '').trim()
      });
      await this.refresh();
      await this.app.commands.execute('docmanager:open', { path: answer.path });
      this.notice = {
        kind: 'info',
        text: 'Lesson added to course.toml. Mark exercises with the Create Assignment tool.'
      };
    });
  }

  private newCourse(form: HTMLFormElement): Promise<void> {
    const data = new FormData(form);
    return this.act('Creating the course folder', async () => {
      await teachRequest('new-course', {
        course: String(data.get('course') ?? '').trim(),
        title: String(data.get('title') ?? '').trim()
      });
      await this.refresh();
      this.notice = { kind: 'info', text: 'Course folder created with a first lesson.' };
    });
  }

  private getSource(course: { slug: string; title: string }): Promise<void> {
    return this.act(`Getting the source of ${course.title}`, async () => {
      await teachRequest('get-source', { course: course.slug });
      await this.refresh();
      this.notice = {
        kind: 'info',
        text: `${course.title} is in ${this.status?.teach_dir ?? 'teach'}/${course.slug}/. Challenge files come without reference solutions: add them under [solution].`
      };
    });
  }

  private open(path: string): void {
    void this.app.commands.execute('docmanager:open', { path });
  }

  private render(): void {
    const node = this.node;
    // a refresh rebuilds the panel: keep the forms someone has open, with what they typed
    const kept = new Map<string, { open: boolean; values: Map<string, string> }>();
    node.querySelectorAll<HTMLDetailsElement>('details[data-keep]').forEach(details => {
      const values = new Map<string, string>();
      details.querySelectorAll<HTMLInputElement>('input[name]').forEach(input => {
        values.set(input.name, input.value);
      });
      kept.set(details.dataset.keep!, { open: details.open, values });
    });
    this.build(node);
    node.querySelectorAll<HTMLDetailsElement>('details[data-keep]').forEach(details => {
      const state = kept.get(details.dataset.keep!);
      if (!state) {
        return;
      }
      details.open = state.open;
      details.querySelectorAll<HTMLInputElement>('input[name]').forEach(input => {
        input.value = state.values.get(input.name) ?? input.value;
      });
    });
  }

  private build(node: HTMLElement): void {
    node.replaceChildren();
    node.append(el('h2', { class: 'jp-LMS-heading' }, 'Teach'));
    if (this.notice) {
      node.append(
        el(
          'p',
          {
            class: `jp-LMS-notice jp-LMS-${this.notice.kind}`,
            role: this.notice.kind === 'error' ? 'alert' : 'status'
          },
          this.notice.text
        )
      );
    }
    if (this.report) {
      node.append(this.renderReport(this.report));
    }
    const status = this.status;
    if (!status) {
      return;
    }
    if (!status.folders.length) {
      node.append(
        el(
          'p',
          { class: 'jp-LMS-muted' },
          `No course source here yet. A course is a folder ${status.teach_dir}/<course>/ with course.toml, lesson notebooks and challenge files.`
        )
      );
    }
    for (const folder of status.folders) {
      node.append(this.renderFolder(folder));
    }
    const here = new Set(status.folders.map(folder => folder.slug));
    const elsewhere = status.courses.filter(course => !here.has(course.slug));
    if (elsewhere.length) {
      const list = el('ul', { class: 'jp-LMS-remote' });
      for (const course of elsewhere) {
        const get = el(
          'button',
          {
            class: 'jp-LMS-button jp-LMS-get-source',
            type: 'button',
            'aria-label': `Get the source of ${course.title}`
          },
          'Get source'
        );
        get.addEventListener('click', () => void this.getSource(course));
        list.append(el('li', { 'data-course': course.slug }, `${course.title} `, get));
      }
      node.append(
        el(
          'section',
          {},
          el('h3', {}, 'Your courses on the LMS'),
          el('p', { class: 'jp-LMS-muted' }, 'Not in this JupyterLab yet:'),
          list
        )
      );
    }
    if (this.app.commands.hasCommand(CREATE_ASSIGNMENT)) {
      const tool = el(
        'button',
        { class: 'jp-LMS-button jp-LMS-create-assignment', type: 'button' },
        'Mark cells (Create Assignment)'
      );
      tool.addEventListener('click', () => {
        void this.app.commands.execute(CREATE_ASSIGNMENT);
      });
      node.append(el('section', {}, tool));
    }
    node.append(this.renderNewCourse());
  }

  private renderFolder(folder: IFolder): HTMLElement {
    const section = el(
      'section',
      { class: 'jp-LMS-source', 'data-course': folder.folder },
      el('h3', { class: 'jp-LMS-source-title' }, folder.title),
      el('p', { class: 'jp-LMS-muted' }, `${folder.path}/`)
    );
    if (folder.error) {
      section.append(el('p', { class: 'jp-LMS-notice jp-LMS-error' }, folder.error));
      // a course made on the web has no lessons yet: adding the first one is the way on
      section.append(this.renderNewLesson(folder));
      return section;
    }
    const list = el('ol', { class: 'jp-LMS-source-lessons' });
    for (const lesson of folder.lessons) {
      const open = el('a', { href: '#', class: 'jp-LMS-open' }, lesson.title);
      open.addEventListener('click', event => {
        event.preventDefault();
        this.open(lesson.path);
      });
      const preview = el(
        'button',
        {
          class: 'jp-LMS-button jp-LMS-preview',
          type: 'button',
          title: `Preview ${lesson.title} as a student`,
          'aria-label': `Preview ${lesson.title} as a student`
        },
        'Preview'
      );
      preview.addEventListener('click', () => void this.preview(folder, lesson));
      list.append(el('li', { 'data-lesson': lesson.id }, open, ' ', preview));
    }
    section.append(list);
    const actions = el('div', { class: 'jp-LMS-nav' });
    const validate = el(
      'button',
      { class: 'jp-LMS-button jp-LMS-validate', type: 'button' },
      'Validate'
    );
    validate.addEventListener('click', () => void this.validate(folder));
    const publish = el(
      'button',
      { class: 'jp-LMS-button jp-LMS-primary jp-LMS-publish', type: 'button' },
      'Publish'
    );
    publish.addEventListener('click', () => void this.publish(folder));
    if (this.busy) {
      validate.setAttribute('disabled', '');
      publish.setAttribute('disabled', '');
    }
    actions.append(validate, publish);
    section.append(actions);

    section.append(this.renderNewLesson(folder));
    return section;
  }

  private renderNewLesson(folder: IFolder): HTMLElement {
    const form = el(
      'form',
      { class: 'jp-LMS-form jp-LMS-new-lesson' },
      el('label', {}, 'Lesson id ', el('input', { name: 'lesson', required: '', pattern: '[a-z0-9][a-z0-9-]*', placeholder: '02-loops' })),
      el('label', {}, 'Title ', el('input', { name: 'title', required: '', maxlength: '200' })),
      el('button', { class: 'jp-LMS-button', type: 'submit' }, 'New lesson')
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.newLesson(folder, form);
    });
    return el(
      'details',
      { 'data-keep': `new-lesson:${folder.folder}` },
      el('summary', {}, 'New lesson'),
      form
    );
  }

  private renderNewCourse(): HTMLElement {
    const form = el(
      'form',
      { class: 'jp-LMS-form jp-LMS-new-course' },
      el('label', {}, 'Course id ', el('input', { name: 'course', required: '', pattern: '[a-z0-9][a-z0-9-]*', placeholder: 'my-course' })),
      el('label', {}, 'Title ', el('input', { name: 'title', required: '', maxlength: '200' })),
      el('button', { class: 'jp-LMS-button', type: 'submit' }, 'Create')
    );
    form.addEventListener('submit', event => {
      event.preventDefault();
      void this.newCourse(form);
    });
    return el(
      'section',
      {},
      el('details', { 'data-keep': 'new-course' }, el('summary', {}, 'New course'), form)
    );
  }

  private renderReport(report: IReport): HTMLElement {
    const section = el(
      'section',
      { class: 'jp-LMS-report', 'aria-live': 'polite' },
      el('h3', {}, `Validation of ${report.title}`)
    );
    const list = el('ul', { class: 'jp-LMS-parts' });
    for (const book of report.notebooks) {
      const name = book.lesson_title ?? book.notebook;
      if (book.error) {
        list.append(
          el(
            'li',
            { class: 'jp-LMS-part jp-LMS-bad jp-LMS-failing' },
            el('span', { class: 'jp-LMS-mark', 'aria-hidden': 'true' }, '✗'),
            el('span', { class: 'jp-LMS-part-title' }, name),
            el('span', { class: 'jp-LMS-part-error' }, book.error)
          )
        );
        continue;
      }
      if (book.ok) {
        list.append(
          el(
            'li',
            { class: 'jp-LMS-part jp-LMS-ok' },
            el('span', { class: 'jp-LMS-mark', 'aria-hidden': 'true' }, '✓'),
            el('span', { class: 'jp-LMS-part-title' }, name),
            el('span', { class: 'jp-LMS-part-points' }, `${points(book.score)} / ${points(book.max_score)}`)
          )
        );
        continue;
      }
      for (const cell of book.failing) {
        list.append(
          el(
            'li',
            { class: 'jp-LMS-part jp-LMS-bad jp-LMS-failing' },
            el('span', { class: 'jp-LMS-mark', 'aria-hidden': 'true' }, '✗'),
            el('span', { class: 'jp-LMS-part-title' }, `${name}: ${cell.title}`),
            el('span', { class: 'jp-LMS-part-points' }, `${points(cell.points)} / ${points(cell.max_points)}`),
            el('span', { class: 'jp-LMS-part-error' }, cell.message)
          )
        );
      }
    }
    for (const challenge of report.challenges) {
      if (challenge.error) {
        list.append(
          el(
            'li',
            { class: 'jp-LMS-part jp-LMS-bad jp-LMS-failing' },
            el('span', { class: 'jp-LMS-mark', 'aria-hidden': 'true' }, '✗'),
            el('span', { class: 'jp-LMS-part-title' }, challenge.title),
            el('span', { class: 'jp-LMS-part-error' }, challenge.error)
          )
        );
      }
      for (const row of challenge.languages) {
        list.append(
          el(
            'li',
            { class: `jp-LMS-part ${row.ok ? 'jp-LMS-ok' : 'jp-LMS-bad jp-LMS-failing'}` },
            el('span', { class: 'jp-LMS-mark', 'aria-hidden': 'true' }, row.ok ? '✓' : '✗'),
            el('span', { class: 'jp-LMS-part-title' }, `${challenge.title} (${row.name})`),
            row.message ? el('span', { class: 'jp-LMS-part-error' }, row.message) : null
          )
        );
      }
    }
    section.append(list);
    return section;
  }
}

export const instructorPlugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyter-lms/lms-course:teach',
  description:
    "The instructor's Teach panel: validate, preview as a student and publish a course's source.",
  autoStart: true,
  optional: [ICommandPalette, ILayoutRestorer, INotebookTracker],
  activate: (
    app: JupyterFrontEnd,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null,
    tracker: INotebookTracker | null
  ) => {
    // asked after start-up, so that JupyterLab does not wait for the LMS
    void teachRequest<IStatus>('status').then(
      status => {
        if (!status.instructor) {
          return;
        }
        const panel = new TeachPanel(app, tracker);
        panel.setStatus(status);
        app.shell.add(panel, 'right', { rank: 60 });
        if (restorer) {
          restorer.add(panel, panel.id);
        }
        app.commands.addCommand(SHOW, {
          label: 'Show Teach Panel',
          execute: () => {
            app.shell.activateById(panel.id);
            return panel.refresh();
          }
        });
        if (palette) {
          palette.addItem({ command: SHOW, category: 'Course' });
        }
      },
      () => undefined // a student (403) or no LMS: no Teach panel
    );
  }
};
