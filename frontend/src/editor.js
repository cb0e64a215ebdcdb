// The challenge page's code editor: CodeMirror 6 behind a small, stable interface,
// `window.LMSEditor.create(element, options)`, so the page script never imports
// CodeMirror itself and the bundle can be swapped without touching the page.
import { basicSetup } from "codemirror";
import { indentWithTab } from "@codemirror/commands";
import { indentUnit } from "@codemirror/language";
import { Compartment, EditorState, Prec } from "@codemirror/state";
import { EditorView, keymap } from "@codemirror/view";
import { cpp } from "@codemirror/lang-cpp";
import { java } from "@codemirror/lang-java";
import { javascript } from "@codemirror/lang-javascript";
import { python } from "@codemirror/lang-python";

// Editor modes the LMS knows (a language's "mode" in the challenge API). C has no
// grammar of its own in CodeMirror 6: the C++ one highlights C correctly.
const MODES = {
  python: () => [python(), indentUnit.of("    ")],
  cpp: () => [cpp(), indentUnit.of("    ")],
  c: () => [cpp(), indentUnit.of("    ")],
  java: () => [java(), indentUnit.of("    ")],
  javascript: () => [javascript(), indentUnit.of("  ")],
};

function modeExtension(mode) {
  const make = MODES[mode];
  if (!make) {
    throw new Error(`LMSEditor: unknown language "${mode}" (known: ${Object.keys(MODES).join(", ")})`);
  }
  return make();
}

const theme = EditorView.theme({
  "&": { height: "100%", fontSize: "14px", backgroundColor: "#fff" },
  "&.cm-focused": { outline: "2px solid #f37726", outlineOffset: "-2px" },
  ".cm-scroller": {
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
    lineHeight: "1.5",
    overflow: "auto",
  },
  ".cm-gutters": { backgroundColor: "#f6f7fb", borderRight: "1px solid #e3e6ee", color: "#5d6778" },
  ".cm-activeLine, .cm-activeLineGutter": { backgroundColor: "#fff4ec" },
});

/**
 * Make an editor inside `element`.
 *
 * options: doc (string), language (python|cpp|c|java|javascript), label (accessible
 * name), onChange(text) after each edit, onRun() for Ctrl/Cmd-Enter.
 * Returns {getValue, setValue, setLanguage, getLanguage, focus, destroy, view}.
 */
function create(element, options = {}) {
  if (!element) throw new Error("LMSEditor.create: no element");
  let mode = options.language || "python";
  const language = new Compartment();
  const onChange = options.onChange;

  const extensions = () => [
    basicSetup,
    // Tab indents (the editor is for code); Escape then Tab still leaves the editor,
    // which is CodeMirror's escape hatch for keyboard users.
    keymap.of([indentWithTab]),
    language.of(modeExtension(mode)),
    theme,
    EditorView.contentAttributes.of({ "aria-label": options.label || "Code editor" }),
    EditorView.updateListener.of((update) => {
      if (update.docChanged && onChange) onChange(update.state.doc.toString());
    }),
    options.onRun ? Prec.highest(keymap.of([{ key: "Mod-Enter", run: () => { options.onRun(); return true; } }])) : [],
  ];
  const view = new EditorView({
    parent: element,
    state: EditorState.create({ doc: options.doc || "", extensions: extensions() }),
  });

  return {
    view,
    getValue: () => view.state.doc.toString(),
    // A new document, not an edit: a fresh state, so undo cannot reach back into
    // another language's code, and onChange does not fire.
    setValue(text) {
      view.setState(EditorState.create({ doc: text == null ? "" : String(text), extensions: extensions() }));
    },
    setLanguage(next) {
      const ext = modeExtension(next); // throws before changing anything
      mode = next;
      view.dispatch({ effects: language.reconfigure(ext) });
    },
    getLanguage: () => mode,
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}

window.LMSEditor = { create, languages: Object.keys(MODES) };
