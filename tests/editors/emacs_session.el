;;; emacs_session.el --- Drive eglot or lsp-mode against a real `lore serve'  -*- lexical-binding: t -*-

;; Run by tests/editors/test_emacs.py as `emacs --batch -l emacs_session.el', with:
;;   LORE_EMACS_CLIENT  `eglot' or `lsp-mode'
;;   LORE_SNIPPET       a file holding exactly the snippet docs/editors.md gives users
;;   LORE_CODE_FILE     the Python file to open (its folder is under the knowledge base)
;;   LORE_TEST_RESULTS  where to write what was seen, as JSON
;; Every wait is for an event (process output), bounded by a timeout; nothing sleeps.

(require 'package)
(package-initialize)                    ; Debian's elpa-* packages, as a user's init has them
(require 'cl-lib)
(require 'json)
(require 'seq)

(defvar lore-client (intern (getenv "LORE_EMACS_CLIENT")))
(defvar lore-results nil)

(defun lore-put (key value)
  (push (cons key value) lore-results))

(defun lore-write-results ()
  (with-temp-file (getenv "LORE_TEST_RESULTS")
    (insert (json-encode lore-results))))

(defun lore-wait (what predicate &optional timeout)
  "Process events until PREDICATE holds; signal an error naming WHAT after TIMEOUT seconds."
  (let ((deadline (+ (float-time) (or timeout 30))))
    (while (and (not (funcall predicate)) (< (float-time) deadline))
      (accept-process-output nil 0.05))
    (or (funcall predicate) (error "Timed out waiting for %s" what))))

(defmacro lore-choosing (prefix &rest body)
  "Run BODY, answering the code-action menu with the entry that starts with PREFIX."
  (declare (indent 1))
  `(cl-letf (((symbol-function 'completing-read)
              (lambda (_prompt collection &rest _)
                (let ((names (mapcar (lambda (c) (if (consp c) (car c) c)) collection)))
                  (or (seq-find (lambda (name) (string-prefix-p ,prefix name)) names)
                      (error "No action %S among %S" ,prefix names))))))
     ;; eglot pops up a mouse menu when the last event was a mouse click (a list).
     (let ((last-nonmenu-event ?\r))
       ,@body)))

(defun lore-select (text)
  "Make the region the first occurrence of TEXT."
  (goto-char (point-min))
  (search-forward text)
  (set-mark (match-beginning 0))
  (activate-mark))

(defun lore-goto (text &optional after)
  "Put point at the start of TEXT, or AFTER characters into it."
  (deactivate-mark)
  (goto-char (point-min))
  (search-forward text)
  (goto-char (+ (match-beginning 0) (or after 0))))

;;; Starting, as a user does

(load (getenv "LORE_SNIPPET") nil t)
(transient-mark-mode 1)
(if (eq lore-client 'eglot) (require 'eglot) (require 'lsp-mode))

(defvar lore-code-buffer (find-file (getenv "LORE_CODE_FILE")))

(defun lore-connected-p ()
  (with-current-buffer lore-code-buffer
    (if (eq lore-client 'eglot)
        (eglot-current-server)
      (seq-find (lambda (ws) (eq (lsp--workspace-status ws) 'initialized)) (lsp-workspaces)))))

(condition-case err
    (progn
      (if (eq lore-client 'eglot)
          (call-interactively #'eglot)
        ;; lsp-mode asks where the project is; the user presses `i' (import the suggested root).
        (cl-letf (((symbol-function 'read-key) (lambda (&rest _) ?i)))
          (lsp)))
      (lore-wait "the server to start" #'lore-connected-p)
      (lore-put 'started t)

      ;; Hover on `RequestQueue' (eldoc in eglot 1.9, `lsp-describe-thing-at-point' in lsp-mode).
      (lore-goto "RequestQueue()" 3)
      (if (eq lore-client 'eglot)
          (let (hover)
            (eglot-hover-eldoc-function (lambda (info &rest _) (setq hover (or info ""))))
            (lore-wait "the hover" (lambda () hover))
            (lore-put 'hover hover))
        (lsp-describe-thing-at-point)
        (lore-put 'hover (with-current-buffer "*lsp-help*" (buffer-string))))

      ;; Completion of `Sett' typed on a new line (eglot 1.9 matches case-sensitively on the
      ;; text it would insert, so the capital is typed as the term is written).
      (set-buffer lore-code-buffer)
      (goto-char (point-max))
      (let ((typed-from (point)))
        (insert "Sett")
        (let* ((capf (if (eq lore-client 'eglot) (eglot-completion-at-point)
                       (lsp-completion-at-point)))
               (prefix (buffer-substring-no-properties (nth 0 capf) (point))))
          (lore-put 'completion (all-completions prefix (nth 2 capf))))
        (delete-region typed-from (point-max)))

      ;; "Ask Lore about…" on the selected `RequestQueue': a cited comment goes in.
      (set-buffer lore-code-buffer)
      (lore-select "RequestQueue()")
      (goto-char (- (point) 2))
      (lore-choosing "Ask Lore about"
        (if (eq lore-client 'eglot)
            (call-interactively #'eglot-code-actions)
          (call-interactively #'lsp-execute-code-action)))
      (lore-put 'after_ask (with-current-buffer lore-code-buffer
                             (buffer-substring-no-properties (point-min) (point-max))))

      ;; "Open source": the glossary opens at the line, within a few seconds.
      (set-buffer lore-code-buffer)
      (lore-select "RequestQueue()")
      (goto-char (- (point) 2))
      (let ((started (float-time)))
        (lore-choosing "Open source: Request queue"
          (if (eq lore-client 'eglot)
              (call-interactively #'eglot-code-actions)
            (call-interactively #'lsp-execute-code-action)))
        (lore-wait "the source to open"
                   (lambda () (equal (file-name-nondirectory (or buffer-file-name "")) "terms.md"))
                   10)
        (lore-put 'open_seconds (- (float-time) started))
        (lore-put 'open_file buffer-file-name)
        (lore-put 'open_line (line-number-at-pos))))
  (error (lore-put 'error (error-message-string err))))

(lore-write-results)
(with-current-buffer lore-code-buffer
  (ignore-errors
    (if (eq lore-client 'eglot)
        (eglot-shutdown (eglot-current-server))
      (lsp-workspace-shutdown (car (lsp-workspaces))))))
(kill-emacs 0)

;;; emacs_session.el ends here
