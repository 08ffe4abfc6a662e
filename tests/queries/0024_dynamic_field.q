component=dfs.DataNode$PacketResponder | count
