/**
 * Jupyter LMS in JupyterLab: the Course sidebar for the notebook in focus and the Submit
 * button (notebook toolbar and command palette). All data comes from the lab server's
 * /lms/api/* handlers (lms_extension/labserver/api.py), which ask the LMS as the student.
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import { ICommandPalette } from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import {
  INotebookModel,
  INotebookTracker,
  NotebookPanel
} from '@jupyterlab/notebook';
import { LabIcon, ToolbarButton } from '@jupyterlab/ui-components';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';
import { Widget } from '@lumino/widgets';

import { askPlugin } from './ask';
import { startActivityTracking } from './activity';
import { el, LMSRefusal, lmsRequest, points } from './common';
import { instructorPlugin } from './instructor';

const SUBMIT = 'lms:submit';
const SHOW = 'lms:show-course';
const POLL_MS = 1500;
const POLL_LIMIT_MS = 5 * 60 * 1000;

const courseIcon = new LabIcon({
  name: 'lms:course',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" width="16" viewBox="0 0 24 24"><path class="jp-icon3" fill="#616161" ' +
    'd="M12 3 1 9l11 6 9-4.91V17h2V9L12 3zM5 13.18v4L12 21l7-3.82v-4L12 17l-7-3.82z"/></svg>'
});

interface IPart {
  title: string;
  points: number | null;
  max_points: number | null;
  passed: boolean;
  needs_manual_grade: boolean;
  error: string | null;
  comment: string | null;
}

interface ISubmission {
  id: number;
  status: 'queued' | 'grading' | 'graded' | 'failed';
  attempt: number;
  submitted_at: string;
  score: number | null;
  max_score: number | null;
  late_penalty_percent: number | null;
  error: string | null;
  parts: IPart[];
  // false while the course holds feedback until the instructor releases it (no score, no parts)
  feedback_released?: boolean;
}

interface ISyllabusRow {
  lesson: string;
  title: string;
  current: boolean;
  started: boolean;
  completed: boolean;
  open_url: string;
}

interface IContext {
  course: { slug: string; title: string; url: string; qa_url: string | null };
  lesson: { id: string; title: string; number: number; url: string };
  progress: {
    percent: number;
    completed_lessons: number;
    total_lessons: number;
  } | null;
  enrolled: boolean;
  syllabus: ISyllabusRow[];
  previous: ISyllabusRow | null;
  next: ISyllabusRow | null;
  policy: {
    deadline: string | null;
    late_policy: string;
    late_percent_per_day: number;
    max_attempts: number | null;
    cooldown_seconds: number;
  } | null;
  attempts_used: number;
  attempts_left: number | null;
  cooldown_remaining_seconds: number;
  past_deadline: boolean;
  late_penalty_percent_now: number;
  submissions: ISubmission[];
  quizzes: {
    id: string;
    question: string;
    solved: boolean;
    score: number | null;
    points: number | null;
    attempts_used: number | null;
    attempts_left: number | null;
  }[];
  announcements?: {
    id: number;
    title: string;
    body_html: string;
    created_at: string;
  }[];
}


function duration(seconds: number): string {
  if (seconds < 60) {
    return `${seconds} s`;
  }
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  if (minutes < 60) {
    return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
  }
  const hours = Math.floor(minutes / 60);
  return `${hours} h ${minutes % 60} min`;
}

function cooldownMessage(wait: number): string {
  return wait > 0
    ? `Not submitted: this lesson has a pause between submissions. You can submit again in ${duration(wait)}.`
    : 'Not submitted: please wait a moment before submitting again.';
}

function latePolicy(policy: NonNullable<IContext['policy']>): string {
  if (!policy.deadline || policy.late_policy === 'none') {
    return 'Late submissions are accepted without penalty.';
  }
  if (policy.late_policy === 'zero') {
    return 'Submissions after the deadline score 0.';
  }
  return `Late submissions lose ${points(policy.late_percent_per_day)}% per started day.`;
}

/** The Course sidebar. */
class CoursePanel extends Widget {
  private path: string | null = null;
  private data: IContext | null = null;
  private notice: { kind: 'info' | 'warn' | 'error'; text: string } | null =
    null;
  private waitUntil = 0;
  private tick: number | null = null;
  private grading: ISubmission | null = null;
  private request = 0;

  constructor(
    private submit: () => void,
    private openPath: (path: string) => Promise<void>
  ) {
    super();
    this.id = 'lms-course-panel';
    this.addClass('jp-LMS-panel');
    this.title.icon = courseIcon;
    this.title.caption = 'Course';
    this.node.setAttribute('aria-label', 'Course');
    // previous, next and the syllabus open lessons through the server's /lms/open (the same
    // path as the LMS's "Open in JupyterLab"), inside this JupyterLab: no page load
    this.node.addEventListener('click', event => {
      const target = event.target as HTMLElement | null;
      const anchor = target?.closest('a') as HTMLAnchorElement | null;
      if (
        !anchor ||
        !anchor.href.includes('/lms/open?') ||
        event.button !== 0 ||
        event.ctrlKey ||
        event.metaKey ||
        event.shiftKey
      ) {
        return;
      }
      event.preventDefault();
      void this.openLesson(anchor.href);
    });
    this.render();
  }

  /** Place a lesson in the workspace (``/lms/open``) and open it here; a full page load if that fails. */
  async openLesson(href: string): Promise<void> {
    const query = new URL(href, window.location.href).search;
    try {
      const placed = await lmsRequest<{
        path: string;
        newer_beside: string | null;
        version: number;
      }>(`lms/open${query}&format=json`);
      await this.openPath(placed.newer_beside ?? placed.path);
      if (placed.newer_beside) {
        this.setNotice(
          'info',
          `A newer version of this lesson opened beside your edited copy (${placed.path}), which is kept as it was.`
        );
      }
    } catch (error) {
      window.location.href = href;
    }
  }

  get lessonPath(): string | null {
    return this.data ? this.path : null;
  }

  /** Show the notebook at ``path`` (null: no notebook in focus). */
  async showPath(path: string | null, force = false): Promise<void> {
    if (path === this.path && !force) {
      return;
    }
    if (path !== this.path) {
      // another notebook: its own standing (a cooldown belongs to the lesson it was met in)
      this.notice = null;
      this.grading = null;
      this.waitUntil = 0;
    }
    this.path = path;
    const ask = ++this.request;
    if (!path) {
      this.data = null;
      this.render();
      return;
    }
    try {
      const data = await lmsRequest<IContext>(
        `lms/api/context?path=${encodeURIComponent(path)}`
      );
      if (ask !== this.request) {
        return;
      }
      this.data = data;
      if (data.cooldown_remaining_seconds > 0) {
        this.startCooldown(data.cooldown_remaining_seconds);
      }
    } catch (error) {
      if (ask !== this.request) {
        return;
      }
      this.data = null;
      const refusal = error as LMSRefusal;
      // 404: not a lesson; 402/403: no access (e.g. refunded: the notebook was just locked)
      const plain = [402, 403, 404].includes(refusal.status);
      this.notice = {
        kind: refusal.status === 404 ? 'info' : plain ? 'warn' : 'error',
        text: plain
          ? `${refusal.message}`
          : `The course cannot be shown right now: ${refusal.message}`
      };
    }
    this.render();
  }

  refresh(): Promise<void> {
    return this.showPath(this.path, true);
  }

  setNotice(kind: 'info' | 'warn' | 'error', text: string): void {
    this.notice = { kind, text };
    this.render();
  }

  setGrading(submission: ISubmission | null): void {
    this.grading = submission;
    this.render();
  }

  startCooldown(seconds: number): void {
    this.waitUntil = Date.now() + seconds * 1000;
    if (this.tick === null) {
      this.tick = window.setInterval(() => {
        if (Date.now() >= this.waitUntil) {
          window.clearInterval(this.tick!);
          this.tick = null;
          if (this.notice?.kind === 'warn') {
            this.notice = null;
          }
        }
        this.render();
      }, 1000);
    }
  }

  get cooldownLeft(): number {
    return Math.max(0, Math.ceil((this.waitUntil - Date.now()) / 1000));
  }

  dispose(): void {
    if (this.tick !== null) {
      window.clearInterval(this.tick);
    }
    super.dispose();
  }

  private render(): void {
    const node = this.node;
    node.replaceChildren();
    node.append(el('h2', { class: 'jp-LMS-heading' }, 'Course'));
    if (this.notice) {
      node.append(
        el(
          'p',
          {
            class: `jp-LMS-notice jp-LMS-${this.notice.kind}`,
            role: this.notice.kind === 'info' ? 'status' : 'alert'
          },
          this.notice.text
        )
      );
    }
    const data = this.data;
    if (!data) {
      if (!this.path) {
        node.append(
          el(
            'p',
            { class: 'jp-LMS-muted' },
            'Open a lesson notebook to see its course, deadline and feedback here.'
          )
        );
      }
      return;
    }
    node.append(this.renderHeader(data));
    if (data.announcements?.length) {
      node.append(this.renderAnnouncements(data));
    }
    node.append(this.renderLesson(data));
    node.append(this.renderResult(data));
    if (data.quizzes.length) {
      node.append(this.renderQuizzes(data));
    }
    node.append(this.renderSyllabus(data));
  }

  /** The course's latest announcements, as text (the LMS's HTML is never inserted here). */
  private renderAnnouncements(data: IContext): HTMLElement {
    const list = el('ul', { class: 'jp-LMS-announcements' });
    for (const item of data.announcements ?? []) {
      const body =
        new DOMParser().parseFromString(item.body_html || '', 'text/html').body
          .textContent ?? '';
      const when = new Date(item.created_at);
      list.append(
        el(
          'li',
          { class: 'jp-LMS-announcement' },
          el('strong', {}, item.title),
          el(
            'span',
            { class: 'jp-LMS-muted' },
            isNaN(when.getTime()) ? '' : ` · ${when.toLocaleDateString()}`
          ),
          el('p', {}, body.length > 400 ? `${body.slice(0, 400)}…` : body)
        )
      );
    }
    return el(
      'section',
      { class: 'jp-LMS-announcements-box' },
      el('h3', {}, 'Announcements'),
      list
    );
  }

  private renderHeader(data: IContext): HTMLElement {
    const links = el(
      'p',
      { class: 'jp-LMS-links' },
      el(
        'a',
        { href: data.course.url, target: '_blank', class: 'jp-LMS-course-link' },
        'Course page'
      ),
      el(
        'a',
        { href: data.lesson.url, target: '_blank', class: 'jp-LMS-lesson-link' },
        'Lesson page'
      ),
      data.course.qa_url
        ? el(
            'a',
            { href: data.course.qa_url, target: '_blank', class: 'jp-LMS-qa-link' },
            'Q&A'
          )
        : null
    );
    const header = el(
      'section',
      { class: 'jp-LMS-course' },
      el('h3', { class: 'jp-LMS-course-title' }, data.course.title),
      links
    );
    if (data.progress) {
      const bar = el('div', {
        class: 'jp-LMS-bar',
        role: 'progressbar',
        'aria-valuemin': '0',
        'aria-valuemax': '100',
        'aria-valuenow': `${data.progress.percent}`,
        'aria-label': 'Course progress'
      });
      bar.append(el('span', { style: `width:${data.progress.percent}%` }));
      header.append(
        bar,
        el(
          'p',
          { class: 'jp-LMS-muted jp-LMS-progress' },
          `${data.progress.completed_lessons} of ${data.progress.total_lessons} lessons completed (${data.progress.percent}%)`
        )
      );
    }
    return header;
  }

  private renderLesson(data: IContext): HTMLElement {
    const section = el(
      'section',
      { class: 'jp-LMS-lesson' },
      el(
        'p',
        { class: 'jp-LMS-muted' },
        `Lesson ${data.lesson.number} of ${data.syllabus.length}`
      ),
      el('h3', { class: 'jp-LMS-lesson-title' }, data.lesson.title)
    );
    const nav = el('div', { class: 'jp-LMS-nav' });
    const link = (
      row: ISyllabusRow | null,
      label: string,
      which: string,
      cls: string
    ) =>
      row
        ? el(
            'a',
            {
              href: row.open_url,
              class: `jp-LMS-button ${cls}`,
              title: `${which} lesson: ${row.title}`,
              'aria-label': `${which} lesson: ${row.title}`
            },
            label
          )
        : el(
            'span',
            { class: `jp-LMS-button jp-LMS-disabled ${cls}` },
            label
          );
    nav.append(
      link(data.previous, '‹ Previous', 'Previous', 'jp-LMS-prev'),
      link(data.next, 'Next ›', 'Next', 'jp-LMS-next')
    );
    section.append(nav);

    const facts = el('dl', { class: 'jp-LMS-facts' });
    const fact = (term: string, value: string, cls = '') => {
      facts.append(el('dt', {}, term), el('dd', cls ? { class: cls } : {}, value));
    };
    const policy = data.policy;
    if (policy?.deadline) {
      const when = new Date(policy.deadline);
      fact(
        'Deadline',
        when.toLocaleString(undefined, {
          year: 'numeric',
          month: 'short',
          day: 'numeric',
          hour: 'numeric',
          minute: '2-digit',
          timeZoneName: 'short'
        }) + (data.past_deadline ? ' (passed)' : ''),
        'jp-LMS-deadline'
      );
      fact('Late policy', latePolicy(policy), 'jp-LMS-late');
      if (data.past_deadline && data.late_penalty_percent_now > 0) {
        fact(
          'If you submit now',
          `the score loses ${points(data.late_penalty_percent_now)}%`
        );
      }
    } else {
      fact('Deadline', 'none', 'jp-LMS-deadline');
    }
    if (policy?.max_attempts) {
      fact(
        'Attempts',
        `${data.attempts_used} of ${policy.max_attempts} used, ${data.attempts_left ?? 0} left`,
        'jp-LMS-attempts'
      );
    } else {
      fact(
        'Attempts',
        `${data.attempts_used} used, no limit`,
        'jp-LMS-attempts'
      );
    }
    if (policy?.cooldown_seconds) {
      const left = this.cooldownLeft;
      fact(
        'Cooldown',
        left > 0
          ? `next submission in ${duration(left)}`
          : `${duration(policy.cooldown_seconds)} between submissions`,
        'jp-LMS-cooldown'
      );
    }
    section.append(facts);

    const button = el(
      'button',
      { class: 'jp-LMS-button jp-LMS-primary jp-LMS-submit', type: 'button' },
      'Submit for grading'
    );
    const out = data.attempts_left === 0;
    const busy =
      this.grading !== null &&
      (this.grading.status === 'queued' || this.grading.status === 'grading');
    if (out || busy || this.cooldownLeft > 0) {
      button.setAttribute('disabled', '');
    }
    button.addEventListener('click', () => this.submit());
    section.append(button);
    return section;
  }

  private renderResult(data: IContext): HTMLElement {
    const latest = this.grading ?? data.submissions[0] ?? null;
    const section = el(
      'section',
      { class: 'jp-LMS-result', 'aria-live': 'polite' },
      el('h3', {}, 'Your result')
    );
    if (!latest) {
      section.append(
        el(
          'p',
          { class: 'jp-LMS-muted' },
          'Nothing submitted yet. Save your work, then submit it for grading.'
        )
      );
      return section;
    }
    const head = el(
      'p',
      { class: 'jp-LMS-muted' },
      `Attempt ${latest.attempt}, submitted ${new Date(latest.submitted_at).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })}`
    );
    section.append(head);
    if (latest.status === 'queued' || latest.status === 'grading') {
      section.append(
        el(
          'p',
          { class: 'jp-LMS-score jp-LMS-pending' },
          latest.status === 'queued' ? 'Waiting for a grader…' : 'Grading…'
        )
      );
      return section;
    }
    if (latest.status === 'failed') {
      section.append(
        el(
          'p',
          { class: 'jp-LMS-notice jp-LMS-error' },
          `Your notebook could not be graded (this attempt does not count): ${latest.error ?? 'unknown error'}`
        )
      );
      return section;
    }
    if (latest.feedback_released === false) {
      section.append(
        el(
          'p',
          { class: 'jp-LMS-score jp-LMS-pending' },
          'Graded. Your instructor will release the score and feedback later.'
        )
      );
      return section;
    }
    const full = latest.score !== null && latest.score === latest.max_score;
    section.append(
      el(
        'p',
        { class: `jp-LMS-score${full ? ' jp-LMS-full' : ''}` },
        `${points(latest.score)} / ${points(latest.max_score)} points`
      )
    );
    if (latest.late_penalty_percent) {
      section.append(
        el(
          'p',
          { class: 'jp-LMS-muted' },
          `Late penalty: −${points(latest.late_penalty_percent)}%`
        )
      );
    }
    const list = el('ul', { class: 'jp-LMS-parts' });
    for (const part of latest.parts) {
      const state = part.needs_manual_grade
        ? 'manual'
        : part.passed
          ? 'ok'
          : 'bad';
      const item = el(
        'li',
        { class: `jp-LMS-part jp-LMS-${state}` },
        el(
          'span',
          { class: 'jp-LMS-mark', 'aria-hidden': 'true' },
          state === 'ok' ? '✓' : state === 'bad' ? '✗' : '…'
        ),
        el('span', { class: 'jp-LMS-part-title' }, part.title),
        el(
          'span',
          { class: 'jp-LMS-part-points' },
          part.needs_manual_grade
            ? `– / ${points(part.max_points)}`
            : `${points(part.points)} / ${points(part.max_points)}`
        )
      );
      if (part.needs_manual_grade) {
        item.append(
          el('span', { class: 'jp-LMS-part-note' }, 'graded by your instructor')
        );
      }
      if (part.error && !part.passed && !part.needs_manual_grade) {
        item.append(el('span', { class: 'jp-LMS-part-error' }, part.error));
      }
      if (part.comment) {
        item.append(
          el('span', { class: 'jp-LMS-part-comment' }, `Instructor: ${part.comment}`)
        );
      }
      list.append(item);
    }
    section.append(list);
    return section;
  }

  private renderQuizzes(data: IContext): HTMLElement {
    const list = el('ul', { class: 'jp-LMS-quizzes' });
    for (const quiz of data.quizzes) {
      list.append(
        el(
          'li',
          { class: quiz.solved ? 'jp-LMS-ok' : '' },
          el('span', { class: 'jp-LMS-mark', 'aria-hidden': 'true' }, quiz.solved ? '✓' : '○'),
          el('span', { class: 'jp-LMS-part-title' }, quiz.question),
          el(
            'span',
            { class: 'jp-LMS-part-points' },
            quiz.attempts_used
              ? `${points(quiz.score)} / ${points(quiz.points)}`
              : 'not answered'
          )
        )
      );
    }
    return el('section', { class: 'jp-LMS-quiz' }, el('h3', {}, 'Quizzes'), list);
  }

  private renderSyllabus(data: IContext): HTMLElement {
    const list = el('ol', { class: 'jp-LMS-syllabus' });
    for (const row of data.syllabus) {
      const state = row.completed
        ? 'completed'
        : row.started
          ? 'started'
          : 'not started';
      list.append(
        el(
          'li',
          {
            class: `jp-LMS-row${row.current ? ' jp-LMS-current' : ''}${row.completed ? ' jp-LMS-done' : ''}`,
            'data-lesson': row.lesson
          },
          el(
            'span',
            { class: 'jp-LMS-mark', title: state, 'aria-label': state },
            row.completed ? '✓' : row.started ? '◐' : '○'
          ),
          row.current
            ? el('strong', { 'aria-current': 'page' }, row.title)
            : el('a', { href: row.open_url }, row.title)
        )
      );
    }
    return el('section', { class: 'jp-LMS-syllabus-box' }, el('h3', {}, 'Syllabus'), list);
  }
}

/** The Submit button on every notebook's toolbar. */
class SubmitButtonExtension
  implements DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private app: JupyterFrontEnd) {}

  createNew(panel: NotebookPanel): IDisposable {
    // only lessons have a Submit (not an instructor's sources under teach/, not scratch notebooks)
    if (!isLessonPath(panel.context.path)) {
      return new DisposableDelegate(() => undefined);
    }
    const button = new ToolbarButton({
      className: 'jp-LMS-submit-toolbar',
      label: 'Submit',
      icon: courseIcon,
      tooltip: 'Submit this lesson notebook for grading',
      onClick: () => {
        void this.app.commands.execute(SUBMIT);
      }
    });
    panel.toolbar.insertItem(10, 'lmsSubmit', button);
    return new DisposableDelegate(() => button.dispose());
  }
}

function isLessonPath(path: string): boolean {
  return /^courses\/[a-z0-9][a-z0-9-]*\/[^/]+\.ipynb$/.test(path);
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: '@jupyter-lms/lms-course:plugin',
  description:
    'The Course sidebar (syllabus, progress, deadline, feedback) and the Submit button.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ICommandPalette, ILayoutRestorer],
  activate: (
    app: JupyterFrontEnd,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    restorer: ILayoutRestorer | null
  ) => {
    // learning time: the notebook in the visible tab, while the student is active
    startActivityTracking(app, tracker);
    let shown = false;
    const reveal = () => {
      app.shell.activateById(panel.id);
    };

    const submit = async (): Promise<void> => {
      const notebook = tracker.currentWidget;
      reveal();
      if (!notebook) {
        panel.setNotice('info', 'Open the lesson notebook you want to submit first.');
        return;
      }
      const path = notebook.context.path;
      await panel.showPath(path);
      if (!panel.lessonPath) {
        panel.setNotice(
          'info',
          'This notebook is not a lesson, so there is nothing to submit. Open a lesson from your course page.'
        );
        return;
      }
      // no shortcut on the cooldown the panel knows of: the LMS decides, and says "no attempts
      // left" (409) before "wait" (429), so a student out of attempts is never told to wait
      try {
        await notebook.context.save();
      } catch (error) {
        panel.setNotice(
          'error',
          'Your notebook could not be saved, so it was not submitted. Save it, then try again.'
        );
        return;
      }
      panel.setNotice('info', 'Submitting your saved notebook…');
      let submission: ISubmission;
      try {
        submission = await lmsRequest<ISubmission>('lms/api/submit', {
          method: 'POST',
          body: JSON.stringify({ path })
        });
      } catch (error) {
        const refusal = error as LMSRefusal;
        if (refusal.status === 429) {
          const wait = refusal.retryAfter ?? 0;
          if (wait > 0) {
            panel.startCooldown(wait);
          }
          panel.setNotice('warn', cooldownMessage(wait));
        } else if (refusal.status === 409) {
          panel.setNotice(
            'warn',
            `Not submitted: ${refusal.message.replace(/\.$/, '')}. Your results so far are below.`
          );
        } else {
          panel.setNotice('error', `Not submitted: ${refusal.message}`);
        }
        await panel.refresh();
        return;
      }
      panel.setNotice('info', 'Submitted. Your notebook is being graded…');
      panel.setGrading(submission);
      await panel.refresh();
      panel.setGrading(submission);
      const started = Date.now();
      while (
        (submission.status === 'queued' || submission.status === 'grading') &&
        Date.now() - started < POLL_LIMIT_MS
      ) {
        await new Promise(resolve => setTimeout(resolve, POLL_MS));
        try {
          submission = await lmsRequest<ISubmission>(
            `lms/api/submissions/${submission.id}`
          );
        } catch (error) {
          continue; // a hiccup: keep asking until the limit
        }
        panel.setGrading(submission);
      }
      if (submission.status === 'graded' && submission.feedback_released === false) {
        panel.setNotice(
          'info',
          'Graded. Your instructor will release the score and feedback later.'
        );
      } else if (submission.status === 'graded') {
        panel.setNotice(
          'info',
          `Graded: ${points(submission.score)} / ${points(submission.max_score)} points.`
        );
      } else if (submission.status !== 'failed') {
        panel.setNotice(
          'info',
          'Grading takes longer than usual. Your result will appear here and on the lesson page.'
        );
      }
      panel.setGrading(null);
      await panel.refresh();
      panel.node
        .querySelector('.jp-LMS-result')
        ?.scrollIntoView({ block: 'nearest' });
    };

    const panel = new CoursePanel(
      () => void submit(),
      async (path: string) => {
        await app.commands.execute('docmanager:open', { path });
      }
    );
    app.shell.add(panel, 'right', { rank: 50 });
    if (restorer) {
      restorer.add(panel, panel.id);
    }

    app.commands.addCommand(SUBMIT, {
      label: 'Submit Lesson for Grading',
      caption: 'Save the lesson notebook in focus and submit it for grading',
      icon: courseIcon,
      execute: () => submit()
    });
    app.commands.addCommand(SHOW, {
      label: 'Show Course Sidebar',
      execute: () => reveal()
    });
    if (palette) {
      palette.addItem({ command: SUBMIT, category: 'Course' });
      palette.addItem({ command: SHOW, category: 'Course' });
    }
    app.docRegistry.addWidgetExtension('Notebook', new SubmitButtonExtension(app));

    const follow = () => {
      const current = tracker.currentWidget;
      if (!current) {
        return;
      }
      const update = () => {
        const path = current.context.path;
        void panel.showPath(path);
        // the first lesson opened in this window brings its course into view
        if (!shown && isLessonPath(path)) {
          shown = true;
          if (!panel.isVisible) {
            reveal();
          }
        }
      };
      void current.context.ready.then(update);
    };
    tracker.currentChanged.connect(follow);
    void app.restored.then(follow);

    // A lesson link (`lab/workspaces/lesson-…/tree/courses/<course>/<lesson>.ipynb`) opens its
    // notebook as soon as the layout is restored. JupyterLab's router would open it only after
    // the workspace's debounced first save (half a second or more of idle); when the router's
    // turn comes, the document manager finds the notebook already open and just focuses it.
    const treePath = PageConfig.getOption('treePath');
    if (isLessonPath(treePath)) {
      void app.restored.then(() =>
        app.commands.execute('docmanager:open', { path: treePath })
      );
    }
  }
};

// the instructor's Teach panel (src/instructor.ts) shows only to those who author courses
export default [plugin, instructorPlugin, askPlugin];
