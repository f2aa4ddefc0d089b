from cryptoviz_assets.replay.server import main

main()
