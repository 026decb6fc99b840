RoostCommand.main()
