# Installed as {sys.prefix}/etc/ipython/ipython_kernel_config.py: every IPython kernel of
# that environment (students' kernels and the autograder's) loads the %%judge magic.
# IPython reads this file before the user's own profile; appending (rather than assigning)
# keeps the extensions a profile appends as well.
c = get_config()  # noqa: F821 (IPython provides it while loading this file)
c.InteractiveShellApp.extensions.append("lms_extension.judge_magic")
c.InteractiveShellApp.extensions.append("lms_extension.learning_magic")
