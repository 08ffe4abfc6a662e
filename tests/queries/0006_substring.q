message:*nterrupt*
