# Installed as {sys.prefix}/etc/ipython/ipython_kernel_config.py: every IPython kernel of
# that environment (students' kernels and the autograder's) loads the %%judge magic and
# %lms_quiz / %lms_progress (lms_extension/kernel/).
# IPython reads this file before the user's own profile; appending (rather than assigning)
# keeps the extensions a profile appends as well.
c = get_config()  # noqa: F821 (IPython provides it while loading this file)
c.InteractiveShellApp.extensions.append("lms_extension.kernel.judge")
c.InteractiveShellApp.extensions.append("lms_extension.kernel.learning")
