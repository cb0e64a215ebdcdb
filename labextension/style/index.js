import './base.css';
import './instructor.css';
import './ask.css';
