from graders.judge0.app import main

main()
