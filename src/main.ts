// The page's entry: the app shell registers everything it renders.
import './ui/sae-app.ts';
import './ui/offline.ts';
