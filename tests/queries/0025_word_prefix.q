# limit=4
Recei*
